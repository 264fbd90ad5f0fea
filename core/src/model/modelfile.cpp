#include "model/modelfile_p.h"

#include "layerscope/error.h"

#include <zip.h>

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace layerscope {

namespace {

std::string untrustedMessage(const UntrustedModelError::Finding& f)
{
    std::string where;
    if (f.ownerIsClass)
        where = f.method.empty() ? " in class " + f.owner : " in method " + f.method + " of " + f.owner;
    else if (!f.method.empty())
        where = " in function " + f.owner + "." + f.method;
    else if (!f.owner.empty())
        where = " in " + f.owner;
    return f.path + ": the model " + f.usage + where + (f.risk.empty() ? std::string() : ": it can " + f.risk)
        + "; open it only if you trust it (--trust-model)";
}

} // namespace

UntrustedModelError::UntrustedModelError(Finding finding)
    : Error(untrustedMessage(finding))
    , finding_(std::move(finding))
{
}

} // namespace layerscope

namespace layerscope::detail {

namespace {

const char* const kHowToExport = "export it with torch.jit.script(model).save(path) or "
                                 "torch.jit.trace(model, example_input).save(path)";

using Archive = std::unique_ptr<zip_t, decltype(&zip_discard)>;

constexpr std::uint64_t kMiB = std::uint64_t(1) << 20;
constexpr std::uint64_t kGiB = std::uint64_t(1) << 30;

// What an archive may declare, read from its central directory (zip_stat) before anything is
// inflated: LibTorch allocates each entry's declared size and inflates into it, so these bound what
// opening a model can cost. torch.jit.save stores every entry uncompressed (tensors even 64-byte
// aligned for mmap), so a real model declares about its file size in total, whatever its size;
// only a re-zipped archive compresses, and then code and pickles by 3-10x, weights by less than 2x.
// Deflate reaches 1032x on repeated bytes: a ratio over 100 past 16 MiB is a bomb, not a model.
// The absolute caps are far above any model LayerScope can open on one machine (a 64 GiB tensor,
// 256 GiB in total) and keep the arithmetic below away from overflow.
constexpr std::uint64_t kMaxEntryBytes = 64 * kGiB;
constexpr std::uint64_t kMaxTotalBytes = 256 * kGiB;
constexpr std::uint64_t kRatioFreeBytes = 16 * kMiB; // entries this small are never a problem
constexpr std::uint64_t kMaxEntryRatio = 100;        // declared : compressed, for larger entries
constexpr std::uint64_t kMaxTotalRatio = 8;          // declared in total : file size ...
constexpr std::uint64_t kTotalAllowance = 64 * kMiB; // ... plus this, for small re-zipped models

// The TorchScript source LayerScope reads to check it (real models have kilobytes to a few MiB):
// more than this is refused unless trusted rather than read unchecked.
constexpr std::uint64_t kMaxSourceEntryBytes = 32 * kMiB;
constexpr std::uint64_t kMaxSourceBytes = 128 * kMiB;

std::string humanBytes(std::uint64_t bytes)
{
    char text[32];
    if (bytes < 1024)
        std::snprintf(text, sizeof text, "%llu bytes", static_cast<unsigned long long>(bytes));
    else if (bytes < kMiB)
        std::snprintf(text, sizeof text, "%.1f KiB", double(bytes) / 1024);
    else if (bytes < kGiB)
        std::snprintf(text, sizeof text, "%.1f MiB", double(bytes) / double(kMiB));
    else if (bytes < 1024 * kGiB)
        std::snprintf(text, sizeof text, "%.1f GiB", double(bytes) / double(kGiB));
    else
        std::snprintf(text, sizeof text, "%.1f TiB", double(bytes) / double(1024 * kGiB));
    return text;
}

std::string entryName(zip_t* archive, zip_uint64_t index)
{
    // Raw bytes, as LibTorch's reader (miniz) compares them; never null into std::string.
    const char* name = zip_get_name(archive, index, ZIP_FL_ENC_RAW);
    return name ? name : "";
}

// Entry names come from the file: no line breaks or other control characters into a one-line message.
std::string printable(std::string text)
{
    for (char& c : text) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            c = '?';
    }
    return text;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }

bool endsWithNoCase(std::string_view text, std::string_view suffix)
{
    if (text.size() < suffix.size())
        return false;
    for (std::size_t i = 0; i < suffix.size(); ++i) {
        if (lower(text[text.size() - suffix.size() + i]) != suffix[i])
            return false;
    }
    return true;
}

std::size_t findNoCase(std::string_view text, std::string_view needle)
{
    for (std::size_t i = 0; i + needle.size() <= text.size(); ++i) {
        std::size_t k = 0;
        while (k < needle.size() && lower(text[i + k]) == needle[k])
            ++k;
        if (k == needle.size())
            return i;
    }
    return std::string_view::npos;
}

void checkDeclaredSizes(zip_t* archive, std::uint64_t fileSize, const std::string& name)
{
    const auto refuse = [&](const std::string& what, std::uint64_t declared, std::uint64_t from) {
        throw Error(name + ": " + what + " declares " + humanBytes(declared) + " uncompressed from " + humanBytes(from)
                    + " (a zip bomb?); refusing to load");
    };
    std::uint64_t total = 0;
    const zip_int64_t entries = zip_get_num_entries(archive, 0);
    for (zip_int64_t i = 0; i < entries; ++i) {
        const auto index = static_cast<zip_uint64_t>(i);
        zip_stat_t stat;
        zip_stat_init(&stat);
        if (zip_stat_index(archive, index, ZIP_FL_ENC_RAW, &stat) != 0 || !(stat.valid & ZIP_STAT_SIZE)
            || !(stat.valid & ZIP_STAT_COMP_SIZE))
            throw Error(name + ": truncated or corrupt archive (entry " + std::to_string(i) + " has no sizes)");
        const std::string what = "archive entry '" + printable(entryName(archive, index)) + "'";
        if (stat.size > kMaxEntryBytes)
            refuse(what, stat.size, stat.comp_size);
        // size / ratio > comp_size, without multiplying into an overflow.
        if (stat.size > kRatioFreeBytes && stat.size / kMaxEntryRatio > stat.comp_size)
            refuse(what, stat.size, stat.comp_size);
        total += stat.size; // each term is at most kMaxEntryBytes and total at most kMaxTotalBytes before it
        if (total > kMaxTotalBytes)
            refuse("archive", total, fileSize);
    }
    if (fileSize < (kMaxTotalBytes - kTotalAllowance) / kMaxTotalRatio
        && total > fileSize * kMaxTotalRatio + kTotalAllowance)
        refuse("archive", total, fileSize);
}

// The code check. LibTorch compiles the archive's code/**.py when it loads a model and runs __setstate__ of every
// object while unpickling, before a caller can look at anything: the source is the only place to
// look first. TorchScript resolves builtin operators only through two names, `torch` (aten, e.g.
// torch.from_file, torch.autograd.from_file) and `ops` (any namespace, e.g. ops.aten.from_file,
// ops.prim.rpc_async); its other globals (print, len, getattr, fork, CONSTANTS, __torch__ classes)
// reach no operator by name. So the check is on tokens, as TorchScript's lexer sees them (strings,
// comments and line continuations handled alike): every chain rooted at `torch` or `ops`
//   - must not name an operator of the list below, spelled any way (ops.aten.x, torch.autograd.x);
//   - must be called at once, `torch.x(...)`. The serializer writes nothing else, while
//     `t = torch`, `f = torch.from_file` or `getattr(torch, "from_file")` are valid TorchScript that
//     would hide the operator's name from any reading of the source.
// A method named save_features, a string or comment that says "torch.save" are not such chains.
//
// The list comes from torch._C._jit_get_all_schemas() of PyTorch 1.13 (2082 operators): every
// schema taking a file name, and what reaches other processes or machines.
//   aten::from_file  opens a path, creates it and maps it shared: in-place ops write the file
//   aten::save       pickles a value to a path
//   prim::rpc_async, rpc_sync, rpc_remote  send calls to other workers (need an RPC agent, which
//                    LayerScope never starts: refused in case that changes)
//   c10d::*          collectives on a process group (allreduce_, send, recv ...)
// Left alone, on purpose: prim::Print and aten::warn (write to the terminal), aten::manual_seed
// (the process's random state, which LayerScope does not rely on), profiler::* (in-process
// events), set_grad_enabled (thread-local), and the torch.classes that load nothing a model
// chooses. No schema reads the environment, starts a process or opens a socket by address.
struct RefusedName {
    std::string_view name;
    const char* risk;
};
constexpr RefusedName kRefused[] = {
    {"from_file", "read or write files"},         {"save", "write files"},
    {"rpc_async", "send data over the network"},  {"rpc_sync", "send data over the network"},
    {"rpc_remote", "send data over the network"}, {"c10d", "send data to other processes"},
};

struct Token {
    enum Kind { End, Name, Number, String, Punct } kind = End;
    std::string_view text;
    int line = 0;
    int column = 0;
    bool startsLine = false; // first token of a logical line (outside brackets, not continued)
};

bool isNameStart(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80; }
bool isDigit(unsigned char c) { return c >= '0' && c <= '9'; }
bool isNameChar(unsigned char c) { return isNameStart(c) || isDigit(c); }
bool isHexDigit(unsigned char c) { return isDigit(c) || (lower(char(c)) >= 'a' && lower(char(c)) <= 'f'); }

// TorchScript's lexer (torch/csrc/jit/frontend/lexer.h) where it matters for what is code:
// strings as its isString (backslash escapes; a newline ends a one-quoted string, which is then no
// string at all), comments from '#' except "# type:" comments, which it parses, and names of ASCII
// letters, digits and '_'. Bytes above 0x7f count as name characters (never hiding a name: in
// TorchScript they are an error). Where the two would differ, this lexer sees more code, not less.
class Lexer {
public:
    explicit Lexer(std::string_view source)
        : s_(source)
    {
    }

    Token next()
    {
        if (peeked_.kind != Token::End || peekedEnd_) {
            Token t = peeked_;
            peeked_ = Token {};
            peekedEnd_ = false;
            return t;
        }
        return lex();
    }

    const Token& peek()
    {
        if (peeked_.kind == Token::End && !peekedEnd_) {
            peeked_ = lex();
            peekedEnd_ = peeked_.kind == Token::End;
        }
        return peeked_;
    }

private:
    Token lex()
    {
        skipSpace();
        Token t;
        if (pos_ >= s_.size())
            return t;
        t.line = line_;
        t.column = int(pos_ - lineStart_);
        t.startsLine = atLineStart_ && depth_ == 0;
        atLineStart_ = false;
        const std::size_t start = pos_;
        const auto c = static_cast<unsigned char>(s_[pos_]);
        if ((c == '"' || c == '\'') && lexString()) {
            t.kind = Token::String;
        } else if (isNameStart(c)) {
            while (pos_ < s_.size() && isNameChar(static_cast<unsigned char>(s_[pos_])))
                ++pos_;
            t.kind = Token::Name;
        } else if (isDigit(c) || (c == '.' && isDigit(at(pos_ + 1)))) {
            lexNumber();
            t.kind = Token::Number;
        } else {
            pos_ += s_.compare(pos_, 3, "...") == 0 ? 3 : 1;
            if (c == '(' || c == '[' || c == '{')
                ++depth_;
            else if ((c == ')' || c == ']' || c == '}') && depth_ > 0)
                --depth_;
            t.kind = Token::Punct;
        }
        t.text = s_.substr(start, pos_ - start);
        return t;
    }

    unsigned char at(std::size_t i) const { return i < s_.size() ? static_cast<unsigned char>(s_[i]) : 0; }

    void newline(std::size_t next)
    {
        ++line_;
        lineStart_ = next;
    }

    void skipSpace()
    {
        while (pos_ < s_.size()) {
            const char c = s_[pos_];
            if (c == '\n') {
                newline(++pos_);
                atLineStart_ = true;
            } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
                ++pos_;
            } else if (c == '\\' && (at(pos_ + 1) == '\n' || (at(pos_ + 1) == '\r' && at(pos_ + 2) == '\n'))) {
                pos_ += at(pos_ + 1) == '\n' ? 2 : 3; // a continued line is not a new statement
                newline(pos_);
            } else if (c == '#' && s_.compare(pos_, 7, "# type:") != 0) {
                while (pos_ < s_.size() && s_[pos_] != '\n')
                    ++pos_;
            } else if (c == '#') {
                ++pos_; // a type comment is parsed: its tokens are code
            } else {
                return;
            }
        }
    }

    bool lexString()
    {
        const char quote = s_[pos_];
        const std::size_t quotes = (at(pos_ + 1) == quote && at(pos_ + 2) == quote) ? 3 : 1;
        const auto closes = [&](std::size_t i) {
            for (std::size_t k = 0; k < quotes; ++k) {
                if (at(i + k) != static_cast<unsigned char>(quote))
                    return false;
            }
            return true;
        };
        std::size_t end = pos_ + quotes;
        int lines = 0;
        std::size_t lastNewline = 0;
        while (end < s_.size() && !closes(end)) {
            if (s_[end] == '\n') {
                if (quotes == 1)
                    return false;
                ++lines;
                lastNewline = end;
            }
            if (s_[end] == '\\') {
                ++end;
                if (end < s_.size() && s_[end] == '\n') {
                    ++lines;
                    lastNewline = end;
                }
            }
            ++end;
        }
        if (end >= s_.size())
            return false; // unterminated: not a string to TorchScript either, so the rest stays code
        for (int i = 0; i < lines; ++i)
            ++line_;
        if (lines)
            lineStart_ = lastNewline + 1;
        pos_ = end + quotes;
        return true;
    }

    void lexNumber()
    {
        if (s_[pos_] == '0' && lower(char(at(pos_ + 1))) == 'x' && isHexDigit(at(pos_ + 2))) {
            pos_ += 2;
            while (isHexDigit(at(pos_)))
                ++pos_;
            return;
        }
        while (isDigit(at(pos_)) || at(pos_) == '.')
            ++pos_;
        const unsigned char e = at(pos_);
        if (e == 'e' || e == 'E') {
            const std::size_t sign = (at(pos_ + 1) == '+' || at(pos_ + 1) == '-') ? 1 : 0;
            if (isDigit(at(pos_ + 1 + sign))) {
                pos_ += 1 + sign;
                while (isDigit(at(pos_)))
                    ++pos_;
            }
        }
    }

    std::string_view s_;
    std::size_t pos_ = 0;
    std::size_t lineStart_ = 0;
    int line_ = 1;
    int depth_ = 0;
    bool atLineStart_ = true;
    Token peeked_;
    bool peekedEnd_ = false;
};

bool isPunct(const Token& t, std::string_view text) { return t.kind == Token::Punct && t.text == text; }

// Which class and method a token is in, from the indentation of `class` and `def` lines.
class Scope {
public:
    void note(const Token& t)
    {
        if (t.startsLine) {
            while (!stack_.empty() && stack_.back().column >= t.column)
                stack_.pop_back();
        }
        if (pendingKind_ != Token::End && t.kind == Token::Name) {
            stack_.push_back({pendingColumn_, pendingClass_, std::string(t.text)});
            pendingKind_ = Token::End;
        } else if (t.startsLine && t.kind == Token::Name && (t.text == "class" || t.text == "def")) {
            pendingKind_ = Token::Name;
            pendingClass_ = t.text == "class";
            pendingColumn_ = t.column;
        } else {
            pendingKind_ = Token::End;
        }
    }

    // The class (qualified by the file's module) and its method, or the module and its function.
    // Nested functions (a fork's closure) report the method they are in.
    void describe(const std::string& module, UntrustedModelError::Finding& finding) const
    {
        finding.owner = module;
        finding.ownerIsClass = false;
        for (const auto& level : stack_) {
            if (level.isClass && finding.method.empty() && !finding.ownerIsClass) {
                finding.owner = module + "." + level.name;
                finding.ownerIsClass = true;
            } else if (!level.isClass && finding.method.empty()) {
                finding.method = level.name;
            }
        }
    }

private:
    struct Level {
        int column;
        bool isClass;
        std::string name;
    };
    std::vector<Level> stack_;
    Token::Kind pendingKind_ = Token::End;
    bool pendingClass_ = false;
    int pendingColumn_ = 0;
};

// "evil/code/__torch__/models/x.py" -> "__torch__.models.x", as TorchScript qualifies its classes.
std::string moduleOf(const std::string& entry)
{
    const std::size_t code = findNoCase(entry, "code/");
    std::string module = entry.substr(code == std::string::npos ? 0 : code + 5);
    if (endsWithNoCase(module, ".py"))
        module.resize(module.size() - 3);
    for (char& c : module)
        c = c == '/' ? '.' : c;
    return module;
}

} // namespace

void checkTorchScriptSource(std::string_view source, const std::string& entry, const std::string& name)
{
    Lexer lexer(source);
    Scope scope;
    Token previous;
    for (Token t = lexer.next(); t.kind != Token::End; t = lexer.next()) {
        scope.note(t);
        const bool root = t.kind == Token::Name && (t.text == "torch" || t.text == "ops") && !isPunct(previous, ".");
        previous = t;
        if (!root)
            continue;
        std::string chain(t.text);
        const RefusedName* refused = nullptr;
        const Token first = t;
        bool broken = false;
        while (isPunct(lexer.peek(), ".")) {
            previous = lexer.next();
            scope.note(previous);
            if (lexer.peek().kind != Token::Name) {
                broken = true;
                break;
            }
            previous = lexer.next();
            scope.note(previous);
            chain += "." + std::string(previous.text);
            for (const auto& candidate : kRefused) {
                if (previous.text == candidate.name && !refused)
                    refused = &candidate;
            }
        }
        const bool called = !broken && isPunct(lexer.peek(), "(");
        if (!refused && called)
            continue;
        UntrustedModelError::Finding finding;
        finding.path = name;
        finding.operation = chain;
        finding.entry = entry;
        finding.line = first.line;
        if (refused) {
            finding.usage = (called ? "calls " : "refers to ") + chain;
            finding.risk = refused->risk;
        } else {
            finding.usage = "uses " + chain + " as a value";
            finding.risk = "call operators without naming them";
        }
        scope.describe(moduleOf(entry), finding);
        throw UntrustedModelError(std::move(finding));
    }
}

namespace {

// Reads an entry whose declared size has been checked; throws when it inflates to anything else.
// Grows with the bytes that really arrive, not with what the entry declares.
std::string readWhole(zip_t* archive, zip_uint64_t index, std::uint64_t size, const std::string& entry,
                      const std::string& name)
{
    const auto corrupt = [&](const std::string& why) {
        return Error(name + ": truncated or corrupt archive (entry '" + entry + "' " + why + ")");
    };
    std::unique_ptr<zip_file_t, decltype(&zip_fclose)> file(zip_fopen_index(archive, index, 0), &zip_fclose);
    if (!file)
        throw corrupt(std::string("cannot be read: ") + zip_strerror(archive));
    std::string text;
    char buffer[1 << 16];
    for (;;) {
        const zip_int64_t n = zip_fread(file.get(), buffer, sizeof buffer);
        if (n < 0)
            throw corrupt(std::string("cannot be read: ") + zip_file_strerror(file.get()));
        if (n == 0)
            break;
        text.append(buffer, static_cast<std::size_t>(n));
        if (text.size() > size)
            break;
    }
    if (text.size() != size)
        throw corrupt("does not hold the size it declares");
    return text;
}

void checkCode(zip_t* archive, const std::string& name)
{
    std::uint64_t read = 0;
    const zip_int64_t entries = zip_get_num_entries(archive, 0);
    for (zip_int64_t i = 0; i < entries; ++i) {
        const auto index = static_cast<zip_uint64_t>(i);
        // LibTorch's reader finds "<archive>/code/<module>.py" ignoring letter case: every .py is read.
        if (!endsWithNoCase(entryName(archive, index), ".py"))
            continue;
        const std::string entry = printable(entryName(archive, index));
        zip_stat_t stat;
        zip_stat_init(&stat);
        zip_stat_index(archive, index, ZIP_FL_ENC_RAW, &stat); // sizes known: checkDeclaredSizes ran
        read += stat.size;
        if (stat.size > kMaxSourceEntryBytes || read > kMaxSourceBytes) {
            UntrustedModelError::Finding finding;
            finding.path = name;
            finding.entry = entry;
            finding.usage = "has more TorchScript source than LayerScope reads to check it ("
                + humanBytes(stat.size > kMaxSourceEntryBytes ? stat.size : read) + " in "
                + (stat.size > kMaxSourceEntryBytes ? "'" + entry + "'" : "its code/ folder") + ")";
            throw UntrustedModelError(std::move(finding));
        }
        checkTorchScriptSource(readWhole(archive, index, stat.size, entry, name), entry, name);
    }
}

std::string readEntry(zip_t* archive, zip_int64_t index, std::size_t limit)
{
    std::string text;
    zip_file_t* file = zip_fopen_index(archive, static_cast<zip_uint64_t>(index), 0);
    if (!file)
        return text;
    text.resize(limit);
    const auto n = zip_fread(file, text.data(), limit);
    zip_fclose(file);
    text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return text;
}

[[noreturn]] void throwPickle(const std::string& path, const std::string& what)
{
    throw Error(path + ": this is a torch.save pickle (" + what + "), not a TorchScript model; " + kHowToExport);
}

// The first bytes: a zip archive, or a clear word on what else it is.
void checkLeadingBytes(const char* magic, std::size_t got, const std::string& name)
{
    if (got == 0)
        throw Error(name + ": the file is empty");
    if (got < 4 || std::memcmp(magic, "PK\x03\x04", 4) != 0) {
        // Legacy torch.save (before PyTorch 1.6) writes a bare pickle: protocol 2 opcode, then a magic number.
        if (static_cast<unsigned char>(magic[0]) == 0x80 && got >= 2 && magic[1] == 2)
            throwPickle(name, "the legacy format");
        throw Error(name + ": not a TorchScript model (not a zip archive; torch.jit.save writes zip archives)");
    }
}

[[noreturn]] void throwCorrupt(const std::string& name, zip_error_t* error)
{
    const std::string reason = zip_error_strerror(error);
    zip_error_fini(error);
    throw Error(name + ": truncated or corrupt archive (" + reason + ")");
}

void checkArchive(zip_t* archive, std::uint64_t fileSize, const std::string& name, bool trustModel)
{
    checkDeclaredSizes(archive, fileSize, name); // first: nothing may be inflated before it

    bool hasCode = false, hasConstants = false;
    zip_int64_t dataPickle = -1;
    const zip_int64_t entries = zip_get_num_entries(archive, 0);
    for (zip_int64_t i = 0; i < entries; ++i) {
        const std::string entry = entryName(archive, static_cast<zip_uint64_t>(i));
        if (findNoCase(entry, "/code/") != std::string::npos) // as LibTorch's reader, ignoring case
            hasCode = true;
        const auto slash = entry.find('/');
        if (slash != std::string::npos && entry.compare(slash, std::string::npos, "/data.pkl") == 0)
            dataPickle = i;
        if (slash != std::string::npos && entry.compare(slash, std::string::npos, "/constants.pkl") == 0)
            hasConstants = true;
    }
    if (hasCode) {
        if (!trustModel)
            checkCode(archive, name);
        return;
    }
    if (dataPickle >= 0) {
        // The pickle names the classes it holds: an OrderedDict of tensors is a state_dict.
        const std::string pickle = readEntry(archive, dataPickle, 1 << 16);
        // torch.jit.save pickles TorchScript classes (__torch__.*) and writes constants.pkl; torch.save
        // refuses script modules. Such an archive without code/ is TorchScript that lost its code.
        if (pickle.find("c__torch__") != std::string::npos || hasConstants)
            throw Error(name
                        + ": a TorchScript archive (as torch.jit.save writes) without its code/ folder: damaged or "
                          "stripped, LibTorch cannot rebuild its modules; save the model again with torch.jit.save");
        if (pickle.find("OrderedDict") != std::string::npos && pickle.find("torch.nn.modules") == std::string::npos)
            throwPickle(name, "a state_dict: the weights without the code");
        if (pickle.find("torch.nn.modules") != std::string::npos)
            throwPickle(name, "an eager nn.Module, which needs its Python class to load");
        throwPickle(name, "a state_dict or an eager nn.Module");
    }
    throw Error(name + ": not a TorchScript model (a zip archive without TorchScript code)");
}

} // namespace

bool looksLikeOnnx(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    char lead[4] = {};
    in.read(lead, sizeof lead);
    if (in.gcount() >= 4 && std::memcmp(lead, "PK\x03\x04", 4) == 0)
        return false; // TorchScript's zip, whatever the name says
    std::string extension = path.size() >= 5 ? path.substr(path.size() - 5) : std::string();
    for (char& c : extension)
        c = char(std::tolower(static_cast<unsigned char>(c)));
    return extension == ".onnx" || (in.gcount() >= 2 && lead[0] == 0x08 && (lead[1] & 0x80) == 0);
}

void checkModelFile(const std::string& path, bool trustModel)
{
    namespace fs = std::filesystem;
    std::error_code ec;
    const auto status = fs::status(path, ec);
    if (!fs::exists(status))
        throw Error(path + ": no such file");
    if (fs::is_directory(status))
        throw Error(path + ": is a folder, not a model file");
    if (looksLikeOnnx(path))
        return; // not TorchScript: the ONNX reader checks it as it parses

    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(path + ": cannot be read (" + std::strerror(errno) + ")");
    char magic[4] = {};
    in.read(magic, sizeof magic);
    checkLeadingBytes(magic, static_cast<std::size_t>(in.gcount()), path);
    const auto fileSize = fs::file_size(path, ec);

    int zipError = 0;
    Archive archive(zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &zipError), &zip_discard);
    if (!archive) {
        zip_error_t error;
        zip_error_init_with_code(&error, zipError);
        throwCorrupt(path, &error);
    }
    checkArchive(archive.get(), ec ? 0 : fileSize, path, trustModel);
}

void checkModelArchive(const void* bytes, std::size_t size, const std::string& name, bool trustModel)
{
    checkLeadingBytes(static_cast<const char*>(bytes), size < 4 ? size : 4, name);
    zip_error_t error;
    zip_error_init(&error);
    zip_source_t* source = zip_source_buffer_create(bytes, size, 0, &error);
    if (!source)
        throwCorrupt(name, &error);
    Archive archive(zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error), &zip_discard);
    if (!archive) {
        zip_source_free(source);
        throwCorrupt(name, &error);
    }
    zip_error_fini(&error);
    checkArchive(archive.get(), size, name, trustModel);
}

} // namespace layerscope::detail
