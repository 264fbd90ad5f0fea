#include "qimages.h"

namespace layerscope::ui {

QImage toQImage(const RgbImage& image)
{
    return QImage(image.pixels.data(), image.width, image.height, image.width * 3, QImage::Format_RGB888).copy();
}

QImage tensorToImage(const Tensor& tensor)
{
    const auto& s = tensor.shape;
    if (s.size() < 3 || s.size() > 4 || (s[s.size() - 3] != 1 && s[s.size() - 3] != 3) || tensor.numel() == 0)
        return {};
    return toQImage(renderInputImage(s.size() == 4 ? sampleOf(tensor, 0) : tensor));
}

} // namespace layerscope::ui
