// A pickle machine for one kind of program: the data.pkl of a torch.save'd dict of tensors. It knows the
// opcodes and the four globals that torch.save and torch::pickle_save write for it, and nothing else:
// a crafted pickle can make it build values, never call anything. Every value it makes is bounded: the
// pickle's size, the number of values, the nesting of tuples (so that freeing them cannot recurse
// deeply), and dicts hold only tensors (so that no value can contain itself).

#include "formats/tensorpickle_p.h"

#include "layerscope/error.h"

#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <unordered_map>

namespace layerscope::detail {

namespace {

// A capture costs about 25 values: 40,000 captures. Memo entries, stack slots and marks count alike.
constexpr std::size_t kMaxValues = std::size_t(1) << 20;
// Bytes copied out of values into tensors (storage keys, names, shapes): a few hundred a tensor, but a
// crafted pickle could rebuild one tensor with a long key again and again from the memo.
constexpr std::size_t kMaxCopiedBytes = std::size_t(64) << 20;
constexpr int kMaxDepth = 16; // a tensor's arguments nest 3 deep
constexpr std::size_t kMaxDims = 32;
constexpr std::size_t kMaxGlobalName = 128;

enum class Kind { None, Bool, Int, String, Tuple, Dict, Global, Storage, Tensor };
enum class Callable { RebuildTensor, StorageType, OrderedDict, RestoreTypeTag };

struct Value;
using ValuePtr = std::shared_ptr<Value>;

struct Value {
    Kind kind = Kind::None;
    std::int64_t integer = 0;                    // Int, Bool
    std::string text;                            // String
    std::vector<ValuePtr> items;                 // Tuple
    std::vector<PickledTensor> entries;          // Dict: name to tensor, in insertion order
    std::map<std::string, std::size_t> index;    // Dict: where each name is in entries
    Callable callable = Callable::RebuildTensor; // Global
    DType dtype = DType::Float32;                // Global of a storage type
    std::shared_ptr<const PickledTensor> tensor; // Storage (key, dtype, elements), Tensor
    int depth = 0;
};

struct StorageName {
    const char* name;
    DType dtype;
};
constexpr StorageName kStorageTypes[] = {
    {"FloatStorage", DType::Float32},     {"DoubleStorage", DType::Float64}, {"HalfStorage", DType::Float16},
    {"BFloat16Storage", DType::BFloat16}, {"CharStorage", DType::Int8},      {"ShortStorage", DType::Int16},
    {"IntStorage", DType::Int32},         {"LongStorage", DType::Int64},     {"ByteStorage", DType::UInt8},
    {"BoolStorage", DType::Bool},
};

const char* kindName(Kind kind)
{
    switch (kind) {
    case Kind::None: return "None";
    case Kind::Bool: return "a bool";
    case Kind::Int: return "an int";
    case Kind::String: return "a string";
    case Kind::Tuple: return "a tuple";
    case Kind::Dict: return "a dict";
    case Kind::Global: return "a global";
    case Kind::Storage: return "a storage";
    case Kind::Tensor: return "a tensor";
    }
    return "a value";
}

class Machine {
public:
    Machine(const char* bytes, std::size_t size, const std::string& source)
        : bytes_(reinterpret_cast<const unsigned char*>(bytes))
        , size_(size)
        , source_(source)
    {
    }

    std::vector<PickledTensor> run()
    {
        while (true) {
            opcodeAt_ = position_;
            const unsigned char op = byte();
            if (op == '.')
                return result();
            step(op);
        }
    }

private:
    [[noreturn]] void fail(const std::string& cause) const
    {
        throw Error(source_ + ": not a torch.save of tensors LayerScope can read: " + cause + " (pickle byte "
                    + std::to_string(opcodeAt_) + ")");
    }

    void need(std::size_t n)
    {
        if (n > size_ - position_)
            fail("the pickle ends in the middle of an instruction");
    }
    unsigned char byte()
    {
        need(1);
        return bytes_[position_++];
    }
    std::uint64_t unsignedLE(std::size_t n)
    {
        need(n);
        std::uint64_t value = 0;
        for (std::size_t i = 0; i < n; ++i)
            value |= std::uint64_t(bytes_[position_ + i]) << (8 * i);
        position_ += n;
        return value;
    }
    std::string text(std::size_t n)
    {
        need(n);
        std::string value(reinterpret_cast<const char*>(bytes_ + position_), n);
        position_ += n;
        return value;
    }
    std::string line()
    {
        const void* end = std::memchr(bytes_ + position_, '\n', std::min(size_ - position_, kMaxGlobalName + 1));
        if (!end && size_ - position_ <= kMaxGlobalName)
            fail("the pickle ends in the middle of an instruction");
        if (!end)
            fail("a global's name is not a line of at most " + std::to_string(kMaxGlobalName) + " characters");
        const std::size_t n = static_cast<const unsigned char*>(end) - (bytes_ + position_);
        std::string value = text(n);
        ++position_;
        return value;
    }

    ValuePtr make(Kind kind)
    {
        if (++made_ > kMaxValues)
            fail("more than " + std::to_string(kMaxValues) + " values");
        auto value = std::make_shared<Value>();
        value->kind = kind;
        return value;
    }
    void push(ValuePtr value)
    {
        if (stack_.size() >= kMaxValues)
            fail("more than " + std::to_string(kMaxValues) + " values on the stack");
        stack_.push_back(std::move(value));
    }
    // A PickledTensor copied out of a value: its strings and shape count against kMaxCopiedBytes.
    PickledTensor copyOf(const PickledTensor& tensor, std::size_t nameBytes = 0)
    {
        copied_ += sizeof(PickledTensor) + nameBytes + tensor.name.size() + tensor.storageKey.size()
            + 8 * (tensor.shape.size() + tensor.stride.size());
        if (copied_ > kMaxCopiedBytes)
            fail("its tensors' names and keys come to more than " + std::to_string(kMaxCopiedBytes >> 20) + " MiB");
        return tensor;
    }
    void pushInt(std::int64_t integer)
    {
        ValuePtr value = make(Kind::Int);
        value->integer = integer;
        push(std::move(value));
    }
    ValuePtr pop()
    {
        if (stack_.size() <= (marks_.empty() ? 0 : marks_.back()))
            fail("an instruction takes a value from an empty stack");
        ValuePtr value = std::move(stack_.back());
        stack_.pop_back();
        return value;
    }
    // The values above the last mark, which goes.
    std::vector<ValuePtr> popToMark()
    {
        if (marks_.empty())
            fail("an instruction needs a mark and there is none");
        const std::size_t from = marks_.back();
        marks_.pop_back();
        std::vector<ValuePtr> values(std::make_move_iterator(stack_.begin() + std::ptrdiff_t(from)),
                                     std::make_move_iterator(stack_.end()));
        stack_.resize(from);
        return values;
    }
    ValuePtr tuple(std::vector<ValuePtr> items)
    {
        ValuePtr value = make(Kind::Tuple);
        for (const ValuePtr& item : items)
            value->depth = std::max(value->depth, item->depth + 1);
        if (value->depth > kMaxDepth)
            fail("tuples nest more than " + std::to_string(kMaxDepth) + " deep");
        value->items = std::move(items);
        return value;
    }
    void memoize(std::uint64_t key)
    {
        if (stack_.empty())
            fail("nothing to memoize");
        if (memo_.size() >= kMaxValues && !memo_.count(key))
            fail("more than " + std::to_string(kMaxValues) + " memo entries");
        memo_[key] = stack_.back();
    }
    void recall(std::uint64_t key)
    {
        const auto found = memo_.find(key);
        if (found == memo_.end())
            fail("memo " + std::to_string(key) + " is read before it is written");
        push(found->second);
    }

    void step(unsigned char op)
    {
        switch (op) {
        case 0x80: // PROTO
            if (byte() > 5)
                fail("pickle protocol above 5");
            break;
        case 'c': global(); break;
        case 'q': memoize(unsignedLE(1)); break; // BINPUT
        case 'r': memoize(unsignedLE(4)); break; // LONG_BINPUT
        case 0x94: memoize(memo_.size()); break; // MEMOIZE
        case 'h': recall(unsignedLE(1)); break;  // BINGET
        case 'j': recall(unsignedLE(4)); break;  // LONG_BINGET
        case '(':
            if (marks_.size() >= kMaxValues)
                fail("more than " + std::to_string(kMaxValues) + " marks");
            marks_.push_back(stack_.size());
            break;
        case '}': push(make(Kind::Dict)); break;
        case ')': push(tuple({})); break;
        case 't': push(tuple(popToMark())); break;
        case 0x85:
        case 0x86:
        case 0x87: { // TUPLE1, TUPLE2, TUPLE3
            std::vector<ValuePtr> items(std::size_t(op - 0x84));
            for (auto item = items.rbegin(); item != items.rend(); ++item)
                *item = pop();
            push(tuple(std::move(items)));
            break;
        }
        case 'N': push(make(Kind::None)); break;
        case 0x88:
        case 0x89: { // NEWTRUE, NEWFALSE
            ValuePtr value = make(Kind::Bool);
            value->integer = op == 0x88;
            push(std::move(value));
            break;
        }
        case 'K': pushInt(std::int64_t(unsignedLE(1))); break;                // BININT1
        case 'M': pushInt(std::int64_t(unsignedLE(2))); break;                // BININT2
        case 'J': pushInt(std::int32_t(std::uint32_t(unsignedLE(4)))); break; // BININT
        case 0x8a: { // LONG1: little-endian two's complement of n bytes
            const std::size_t n = byte();
            if (n > 8)
                fail("an integer of " + std::to_string(n) + " bytes");
            const std::uint64_t raw = unsignedLE(n);
            const bool negative = n > 0 && n < 8 && (raw >> (8 * n - 1)) & 1;
            pushInt(std::int64_t(negative ? raw | (~std::uint64_t(0) << (8 * n)) : raw));
            break;
        }
        case 'X':    // BINUNICODE
        case 0x8c: { // SHORT_BINUNICODE
            const std::uint64_t n = unsignedLE(op == 'X' ? 4 : 1);
            ValuePtr value = make(Kind::String);
            value->text = text(std::size_t(n));
            push(std::move(value));
            break;
        }
        case 'Q': persistentLoad(); break;
        case 'R': reduce(); break;
        case 's': { // SETITEM
            ValuePtr value = pop();
            ValuePtr key = pop();
            setItem(key, value);
            break;
        }
        case 'u': { // SETITEMS
            std::vector<ValuePtr> pairs = popToMark();
            if (pairs.size() % 2)
                fail("SETITEMS with a key and no value");
            for (std::size_t i = 0; i < pairs.size(); i += 2)
                setItem(pairs[i], pairs[i + 1]);
            break;
        }
        default: {
            char hex[8];
            std::snprintf(hex, sizeof hex, "0x%02x", op);
            fail(std::string("opcode ") + hex + ", which torch.save does not write for tensors");
        }
        }
    }

    void global()
    {
        const std::string module = line(), name = line();
        ValuePtr value = make(Kind::Global);
        if (module == "torch._utils" && name == "_rebuild_tensor_v2") {
            value->callable = Callable::RebuildTensor;
        } else if (module == "collections" && name == "OrderedDict") {
            value->callable = Callable::OrderedDict;
        } else if (module == "torch.jit._pickle" && name == "restore_type_tag") {
            value->callable = Callable::RestoreTypeTag;
        } else {
            const StorageName* storage = nullptr;
            for (const StorageName& candidate : kStorageTypes)
                if (module == "torch" && name == candidate.name)
                    storage = &candidate;
            if (!storage)
                fail("it calls " + printableName(module, 80) + "." + printableName(name, 80)
                     + ", which a torch.save of tensors never does (a pickle is a program: LayerScope runs none)");
            value->callable = Callable::StorageType;
            value->dtype = storage->dtype;
        }
        push(std::move(value));
    }

    static bool is(const ValuePtr& value, Kind kind) { return value->kind == kind; }
    std::vector<std::int64_t> integers(const ValuePtr& value, const char* what)
    {
        if (!is(value, Kind::Tuple) || value->items.size() > kMaxDims)
            fail(std::string(what) + " is not a tuple of at most " + std::to_string(kMaxDims) + " integers");
        std::vector<std::int64_t> result;
        for (const ValuePtr& item : value->items) {
            if (!is(item, Kind::Int) || item->integer < 0)
                fail(std::string(what) + " holds "
                     + (is(item, Kind::Int) ? "a negative integer" : kindName(item->kind)));
            result.push_back(item->integer);
        }
        return result;
    }

    // ('storage', torch.<Type>Storage, key, location, elements): a storage in the archive's data/<key>.
    void persistentLoad()
    {
        const ValuePtr id = pop();
        const auto& f = id->items;
        if (!is(id, Kind::Tuple) || f.size() != 5 || !is(f[0], Kind::String) || f[0]->text != "storage"
            || !is(f[1], Kind::Global) || f[1]->callable != Callable::StorageType || !is(f[2], Kind::String)
            || !is(f[3], Kind::String) || !is(f[4], Kind::Int) || f[4]->integer < 0)
            fail("a persistent id that is not ('storage', type, key, location, elements)");
        auto storage = std::make_shared<PickledTensor>();
        storage->storageKey = f[2]->text;
        storage->dtype = f[1]->dtype;
        storage->storageElements = f[4]->integer;
        ValuePtr value = make(Kind::Storage);
        value->tensor = std::move(storage);
        push(std::move(value));
    }

    void reduce()
    {
        const ValuePtr args = pop();
        const ValuePtr callable = pop();
        if (!is(callable, Kind::Global) || !is(args, Kind::Tuple))
            fail("REDUCE of " + std::string(kindName(callable->kind)) + " with " + kindName(args->kind));
        const auto& a = args->items;
        switch (callable->callable) {
        case Callable::OrderedDict:
            if (!a.empty())
                fail("OrderedDict called with arguments");
            push(make(Kind::Dict));
            return;
        case Callable::RestoreTypeTag: // (dict, "Dict[str, Tensor]"): the dict itself
            if (a.size() != 2 || !is(a[0], Kind::Dict) || !is(a[1], Kind::String))
                fail("restore_type_tag called with other than a dict and its type");
            push(a[0]);
            return;
        case Callable::StorageType: fail("a storage type is called");
        case Callable::RebuildTensor: break;
        }
        // (storage, offset, size, stride, requires_grad, backward_hooks[, metadata])
        if (a.size() < 6 || a.size() > 7 || !is(a[0], Kind::Storage) || !is(a[1], Kind::Int) || a[1]->integer < 0
            || !is(a[4], Kind::Bool) || !is(a[5], Kind::Dict) || !a[5]->entries.empty()
            || (a.size() == 7 && !is(a[6], Kind::None) && !(is(a[6], Kind::Dict) && a[6]->entries.empty())))
            fail("_rebuild_tensor_v2 called with other than (storage, offset, size, stride, requires_grad, {})");
        auto tensor = std::make_shared<PickledTensor>(copyOf(*a[0]->tensor));
        tensor->offset = a[1]->integer;
        tensor->shape = integers(a[2], "a tensor's size");
        tensor->stride = integers(a[3], "a tensor's stride");
        if (tensor->shape.size() != tensor->stride.size())
            fail("a tensor's size and stride differ in length");
        ValuePtr value = make(Kind::Tensor);
        value->tensor = std::move(tensor);
        push(std::move(value));
    }

    void setItem(const ValuePtr& key, const ValuePtr& value)
    {
        if (stack_.empty() || !is(stack_.back(), Kind::Dict))
            fail("SETITEM on " + std::string(stack_.empty() ? "nothing" : kindName(stack_.back()->kind)));
        if (!is(key, Kind::String) || !is(value, Kind::Tensor))
            fail(std::string("a dict entry of ") + kindName(key->kind) + " to " + kindName(value->kind)
                 + "; LayerScope reads dicts of name to tensor");
        Value& dict = *stack_.back();
        PickledTensor entry = copyOf(*value->tensor, key->text.size());
        entry.name = key->text;
        const auto [at, added] = dict.index.emplace(key->text, dict.entries.size());
        if (added)
            dict.entries.push_back(std::move(entry));
        else
            dict.entries[at->second] = std::move(entry); // a repeated key replaces, as in Python
    }

    std::vector<PickledTensor> result()
    {
        if (stack_.size() != 1 || !marks_.empty())
            fail("the pickle ends with " + std::to_string(stack_.size()) + " values and "
                 + std::to_string(marks_.size()) + " marks, not one dict");
        if (!is(stack_.back(), Kind::Dict))
            fail("the pickle holds " + std::string(kindName(stack_.back()->kind)) + ", not a dict of tensors");
        return stack_.back()->entries;
    }

    const unsigned char* bytes_;
    std::size_t size_, position_ = 0, opcodeAt_ = 0, made_ = 0, copied_ = 0;
    std::string source_;
    std::vector<ValuePtr> stack_;
    std::vector<std::size_t> marks_;
    std::unordered_map<std::uint64_t, ValuePtr> memo_;
};

} // namespace

std::string printableName(const std::string& text, std::size_t most)
{
    std::string out;
    for (char c : text.substr(0, most))
        out += (c >= 0x20 && c < 0x7f) ? c : '?';
    return text.size() > most ? out + "..." : out;
}

std::vector<PickledTensor> unpickleTensorDict(const char* bytes, std::size_t size, const std::string& sourceName)
{
    return Machine(bytes, size, sourceName).run();
}

} // namespace layerscope::detail
