#include "loupe/core/npy.h"

#include <torch/torch.h>

#include <cctype>
#include <cstring>
#include <limits>
#include <vector>

#include "loupe/core/error.h"

namespace loupe {
namespace {

// Data is written and read as little-endian: the byte order of every host loupe targets.
constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
constexpr size_t kAlign = 64;
constexpr size_t kGrowthAxisDigits = 21;  // numpy leaves room to grow the first axis in place

struct DtypeName {
  torch::ScalarType type;
  const char* descr;
};
const DtypeName kDtypes[] = {{torch::kFloat, "<f4"}, {torch::kDouble, "<f8"}, {torch::kLong, "<i8"},
                             {torch::kInt, "<i4"},   {torch::kByte, "|u1"},   {torch::kBool, "|b1"}};
const char kSupported[] = "float32 (<f4), float64 (<f8), int64 (<i8), int32 (<i4), uint8 (|u1), bool (|b1)";

std::string shape_repr(torch::IntArrayRef shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

// The value text after 'key': in the header dict, up to the next top-level comma or '}'.
std::string dict_value(const std::string& header, const std::string& key, const std::string& name) {
  size_t at = std::string::npos;
  for (const char quote : {'\'', '"'}) {
    at = header.find(std::string(1, quote) + key + quote);
    if (at != std::string::npos) break;
  }
  LOUPE_CHECK(at != std::string::npos, name, ": not a valid .npy header (no '", key, "' in ", header, ")");
  size_t colon = header.find(':', at + key.size() + 2);
  LOUPE_CHECK(colon != std::string::npos, name, ": not a valid .npy header (", header, ")");
  size_t begin = colon + 1, end = begin;
  int depth = 0;
  for (; end < header.size(); ++end) {
    const char c = header[end];
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (depth == 0 && (c == ',' || c == '}')) break;
  }
  while (begin < end && std::isspace(static_cast<unsigned char>(header[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(header[end - 1]))) --end;
  return header.substr(begin, end - begin);
}

std::vector<int64_t> parse_shape(const std::string& text, const std::string& name) {
  LOUPE_CHECK(text.size() >= 2 && text.front() == '(' && text.back() == ')', name, ": bad shape ", text,
              " in the .npy header");
  std::vector<int64_t> shape;
  size_t i = 1;
  while (i < text.size() - 1) {
    while (i < text.size() - 1 && (text[i] == ' ' || text[i] == ',')) ++i;
    if (i >= text.size() - 1) break;
    size_t used = 0;
    long long dim = -1;
    try {
      dim = std::stoll(text.substr(i), &used);
    } catch (const std::exception&) {
      used = 0;
    }
    LOUPE_CHECK(used > 0 && dim >= 0, name, ": bad shape ", text, " in the .npy header");
    shape.push_back(dim);
    i += used;
  }
  return shape;
}

}  // namespace

std::string encode_npy(const torch::Tensor& tensor) {
  LOUPE_CHECK(tensor.defined(), "npy: expected a tensor, got an undefined one");
  const char* descr = nullptr;
  for (const auto& d : kDtypes)
    if (d.type == tensor.scalar_type()) descr = d.descr;
  LOUPE_CHECK(descr, "npy: dtype ", tensor.scalar_type(), " is not supported; supported: ", kSupported);
  const auto data = tensor.detach().cpu().contiguous();

  std::string dict =
      std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape_repr(data.sizes()) + ", }";
  if (data.dim() > 0) dict += std::string(kGrowthAxisDigits - std::to_string(data.size(0)).size(), ' ');
  const size_t unpadded = kMagicSize + 2 + 2 + dict.size() + 1;
  dict += std::string((kAlign - unpadded % kAlign) % kAlign, ' ') + '\n';
  LOUPE_CHECK(dict.size() <= std::numeric_limits<uint16_t>::max(), "npy: header of ", dict.size(),
              " bytes is too long for format 1.0");

  std::string out(kMagic, kMagicSize);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(dict.size() & 0xff);
  out += static_cast<char>(dict.size() >> 8);
  out += dict;
  out.append(static_cast<const char*>(data.data_ptr()), data.numel() * data.element_size());
  return out;
}

torch::Tensor decode_npy(const std::string& bytes, const std::string& name) {
  LOUPE_CHECK(bytes.size() >= kMagicSize && bytes.compare(0, kMagicSize, kMagic, kMagicSize) == 0, name,
              ": not a .npy file (bad magic; expected \\x93NUMPY)");
  LOUPE_CHECK(bytes.size() >= kMagicSize + 4, name, ": truncated .npy file (", bytes.size(), " bytes)");
  const auto byte = [&](size_t i) { return static_cast<size_t>(static_cast<unsigned char>(bytes[i])); };
  const size_t version = byte(6);
  LOUPE_CHECK(version >= 1 && version <= 3, name, ": .npy format version ", version, ".", byte(7),
              " is not supported (expected 1.0, 2.0 or 3.0)");
  size_t header_size = byte(8) | byte(9) << 8, header_start = 10;
  if (version >= 2) {
    LOUPE_CHECK(bytes.size() >= 12, name, ": truncated .npy file (", bytes.size(), " bytes)");
    header_size |= byte(10) << 16 | byte(11) << 24;
    header_start = 12;
  }
  LOUPE_CHECK(bytes.size() >= header_start + header_size, name, ": truncated .npy file (header of ", header_size,
              " bytes, file of ", bytes.size(), ")");
  const std::string header = bytes.substr(header_start, header_size);

  const std::string descr = dict_value(header, "descr", name);
  const std::string order = dict_value(header, "fortran_order", name);
  LOUPE_CHECK(order == "False", name, ": fortran_order = ", order,
              " is not supported; save a C-order array (numpy.ascontiguousarray)");
  LOUPE_CHECK(descr.size() >= 3 && (descr.front() == '\'' || descr.front() == '"'), name, ": bad descr ", descr,
              " in the .npy header");
  std::string code = descr.substr(1, descr.size() - 2);
  LOUPE_CHECK(code.empty() || code[0] != '>' || code.substr(1) == "u1" || code.substr(1) == "b1", name,
              ": big-endian dtype ", code, " is not supported; supported: ", kSupported);
  if (!code.empty() && (code[0] == '=' || code[0] == '>' || code[0] == '<' || code[0] == '|')) code = code.substr(1);
  const DtypeName* dtype = nullptr;
  for (const auto& d : kDtypes)
    if (code == std::string(d.descr).substr(1)) dtype = &d;
  LOUPE_CHECK(dtype, name, ": dtype ", descr, " is not supported; supported: ", kSupported);

  const auto shape = parse_shape(dict_value(header, "shape", name), name);
  size_t count = 1;
  for (const int64_t dim : shape) {
    LOUPE_CHECK(dim == 0 || count <= std::numeric_limits<size_t>::max() / 16 / static_cast<size_t>(dim), name,
                ": shape too large in the .npy header");
    count *= static_cast<size_t>(dim);
  }
  const size_t data_size = count * c10::elementSize(dtype->type);
  const size_t available = bytes.size() - header_start - header_size;
  LOUPE_CHECK(available >= data_size, name, ": truncated .npy file (expected ", data_size, " bytes of data for shape ",
              shape_repr(shape), ", found ", available, ")");
  auto tensor = torch::empty(shape, torch::TensorOptions().dtype(dtype->type));
  if (data_size > 0) std::memcpy(tensor.data_ptr(), bytes.data() + header_start + header_size, data_size);
  if (dtype->type == torch::kBool) {
    // Any byte other than 0 or 1 would be an invalid bool.
    LOUPE_CHECK(tensor.view(torch::kByte).le(1).all().item<bool>(), name, ": bool data holds bytes other than 0/1");
  }
  return tensor;
}

void write_npy(const fs::path& path, const torch::Tensor& tensor) { write_file_atomic(path, encode_npy(tensor)); }

torch::Tensor read_npy(const fs::path& path) { return decode_npy(read_file(path), path.string()); }

}  // namespace loupe
