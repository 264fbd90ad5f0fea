#pragma once
// Half-precision values as bits: IEEE float16 and bfloat16 to and from float32. Rounding is to
// nearest, ties to even, and NaN stays NaN, bit for bit as numpy's astype(np.float16) and torch's
// .bfloat16() do (tests/tst_npy.cpp compares every float16 and edge cases of both).

#include <cmath>
#include <cstdint>
#include <cstring>

namespace layerscope::detail {

inline float floatFromBits(std::uint32_t bits)
{
    float value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

inline std::uint32_t bitsOfFloat(float value)
{
    std::uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    return bits;
}

inline float bfloat16ToFloat(std::uint16_t h) { return floatFromBits(std::uint32_t(h) << 16); }

inline std::uint16_t floatToBfloat16(float value)
{
    const std::uint32_t bits = bitsOfFloat(value);
    if ((bits & 0x7fffffffu) > 0x7f800000u)
        return 0x7fc0; // every NaN as the one torch makes
    return std::uint16_t((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

inline float halfToFloat(std::uint16_t h)
{
    const std::uint32_t sign = (h & 0x8000u) << 16, exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
    if (exponent == 0) { // zero or subnormal: mantissa x 2^-24, exact in float32
        const float magnitude = std::ldexp(float(mantissa), -24);
        return sign ? -magnitude : magnitude;
    }
    if (exponent == 31)
        return floatFromBits(sign | 0x7f800000u | mantissa << 13);
    return floatFromBits(sign | (exponent + 127 - 15) << 23 | mantissa << 13);
}

inline std::uint16_t floatToHalf(float value)
{
    const std::uint32_t bits = bitsOfFloat(value);
    const std::uint16_t sign = std::uint16_t((bits >> 16) & 0x8000u);
    std::uint32_t magnitude = bits & 0x7fffffffu;
    if (magnitude > 0x7f800000u) { // NaN: the top of its payload, as numpy keeps it, and still a NaN
        const std::uint16_t payload = std::uint16_t((magnitude >> 13) & 0x3ffu);
        return std::uint16_t(sign | 0x7c00u | (payload ? payload : 1u));
    }
    if (magnitude >= 0x477ff000u) // 65520 and above round to infinity
        return std::uint16_t(sign | 0x7c00u);
    if (magnitude < 0x38800000u) // below 2^-14: a subnormal, in units of 2^-24 (the scaling is exact)
        return std::uint16_t(sign | std::uint16_t(std::nearbyint(floatFromBits(magnitude) * 16777216.0f)));
    magnitude += 0xc8000fffu + ((magnitude >> 13) & 1u); // exponent 127 -> 15 bias, and the rounding
    return std::uint16_t(sign | (magnitude >> 13));
}

// A double as a float32 rounded to odd (toward zero, then the last bit set when inexact): rounded
// again to float16 or bfloat16 it gives the correctly rounded result of the double, as numpy's
// astype(np.float16) of a float64 does, where plain float32 rounding first could be one step off.
inline float roundedToOdd(double value)
{
    const float nearest = static_cast<float>(value);
    if (!std::isfinite(value) || static_cast<double>(nearest) == value)
        return nearest;
    const float truncated
        = std::abs(static_cast<double>(nearest)) > std::abs(value) ? std::nextafter(nearest, 0.0f) : nearest;
    return floatFromBits(bitsOfFloat(truncated) | 1u);
}

} // namespace layerscope::detail
