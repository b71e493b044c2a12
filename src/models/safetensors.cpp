#include "loupe/models/safetensors.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>
#include <vector>

#include "loupe/core/error.h"

// The format stores little-endian bytes; we copy them straight into tensors.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes a little-endian host");

namespace loupe {
namespace {

using json = nlohmann::json;

struct DtypeName {
  const char* name;
  torch::ScalarType type;
};
const DtypeName kDtypes[] = {{"F64", torch::kDouble},    {"F32", torch::kFloat}, {"F16", torch::kHalf},
                             {"BF16", torch::kBFloat16}, {"I64", torch::kLong},  {"I32", torch::kInt},
                             {"I16", torch::kShort},     {"I8", torch::kChar},   {"U8", torch::kByte},
                             {"BOOL", torch::kBool}};

std::string supported_dtypes() {
  std::string s;
  for (const auto& d : kDtypes) s += (s.empty() ? "" : ", ") + std::string(d.name);
  return s;
}

const char* dtype_name(torch::ScalarType t, const std::string& tensor) {
  for (const auto& d : kDtypes)
    if (d.type == t) return d.name;
  fail("safetensors: tensor '", tensor, "' has dtype ", t, ", which the format cannot hold; expected one of ",
       supported_dtypes());
}

// A non-negative integer field, or an error naming the file, tensor and field.
uint64_t as_size(const json& v, const std::string& file, const std::string& tensor, const char* field) {
  LOUPE_CHECK(v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0), file, ": tensor '", tensor,
              "': ", field, " must hold non-negative integers, found ", v.dump());
  return v.get<uint64_t>();
}

struct Entry {
  std::string name;
  torch::ScalarType type;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

Entry parse_entry(const std::string& file, const std::string& name, const json& e) {
  LOUPE_CHECK(e.is_object(), file, ": tensor '", name, "': expected an object {dtype, shape, data_offsets}, found ",
              e.dump());
  for (const char* field : {"dtype", "shape", "data_offsets"})
    LOUPE_CHECK(e.contains(field), file, ": tensor '", name, "': missing field '", field,
                "' (expected dtype, shape and data_offsets)");
  Entry out{name, torch::kFloat, {}, 0, 0};

  const auto& dtype = e["dtype"];
  LOUPE_CHECK(dtype.is_string(), file, ": tensor '", name, "': dtype must be a string, found ", dtype.dump());
  const auto it = std::find_if(std::begin(kDtypes), std::end(kDtypes),
                               [&](const DtypeName& d) { return dtype.get<std::string>() == d.name; });
  LOUPE_CHECK(it != std::end(kDtypes), file, ": tensor '", name, "': unknown dtype ", dtype.dump(),
              "; expected one of ", supported_dtypes());
  out.type = it->type;

  const auto& shape = e["shape"];
  LOUPE_CHECK(shape.is_array(), file, ": tensor '", name, "': shape must be an array, found ", shape.dump());
  for (const auto& d : shape) {
    const uint64_t v = as_size(d, file, name, "shape");
    LOUPE_CHECK(v <= (uint64_t{1} << 48), file, ": tensor '", name, "': shape ", shape.dump(), " is implausibly large");
    out.shape.push_back(static_cast<int64_t>(v));
  }

  const auto& offsets = e["data_offsets"];
  LOUPE_CHECK(offsets.is_array() && offsets.size() == 2, file, ": tensor '", name,
              "': data_offsets must be [begin, end], found ", offsets.dump());
  out.begin = as_size(offsets[0], file, name, "data_offsets");
  out.end = as_size(offsets[1], file, name, "data_offsets");
  return out;
}

// numel * itemsize, or an error if it cannot fit in 64 bits (no file can hold it).
uint64_t byte_size(const Entry& e, const std::string& file) {
  uint64_t bytes = torch::elementSize(e.type);
  if (std::find(e.shape.begin(), e.shape.end(), 0) != e.shape.end()) return 0;
  for (int64_t d : e.shape) {
    LOUPE_CHECK(bytes <= std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(d), file, ": tensor '", e.name,
                "': shape ", torch::IntArrayRef(e.shape), " is implausibly large");
    bytes *= static_cast<uint64_t>(d);
  }
  return bytes;
}

// Tensors in name order (the std::map's), CPU and contiguous, with their dtype names.
struct Layout {
  std::string header;  // padded with spaces to a multiple of 8 bytes
  std::vector<torch::Tensor> data;
};

Layout layout(const SafeTensors& st) {
  json header = json::object();
  Layout out;
  uint64_t offset = 0;
  for (const auto& [name, t] : st.tensors) {
    LOUPE_CHECK(name != "__metadata__", "safetensors: '__metadata__' is reserved and cannot name a tensor");
    LOUPE_CHECK(t.defined(), "safetensors: tensor '", name, "' is undefined; expected a tensor");
    const char* dtype = dtype_name(t.scalar_type(), name);
    auto c = t.detach().to(torch::kCPU).contiguous();
    const uint64_t bytes = static_cast<uint64_t>(c.numel()) * c.element_size();
    header[name] = {{"dtype", dtype}, {"shape", c.sizes().vec()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    out.data.push_back(std::move(c));
  }
  if (!st.metadata.empty()) header["__metadata__"] = st.metadata;
  out.header = header.dump();
  // The reference writer pads so that the byte buffer starts 8-aligned.
  out.header.append((8 - out.header.size() % 8) % 8, ' ');
  return out;
}

void write_layout(std::ostream& os, const Layout& l) {
  const uint64_t n = l.header.size();
  char len[8];
  std::memcpy(len, &n, 8);
  os.write(len, 8);
  os.write(l.header.data(), static_cast<std::streamsize>(n));
  for (const auto& t : l.data)
    os.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * t.element_size()));
}

}  // namespace

SafeTensors parse_safetensors(const std::string& bytes, const std::string& name) {
  LOUPE_CHECK(bytes.size() >= 8, name, ": not a safetensors file: ", bytes.size(),
              " bytes, shorter than the 8-byte header length");
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  LOUPE_CHECK(n <= bytes.size() - 8, name, ": safetensors header length ", n, " exceeds the ", bytes.size() - 8,
              " bytes after the length field (truncated or not a safetensors file)");

  json header;
  try {
    header = json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  } catch (const json::exception& e) {
    fail(name, ": safetensors header is not valid JSON (", e.what(), ")");
  }
  LOUPE_CHECK(header.is_object(), name, ": safetensors header must be a JSON object, found ", header.type_name());

  SafeTensors out;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      LOUPE_CHECK(value.is_object(), name, ": __metadata__ must be an object of strings, found ", value.dump());
      for (const auto& [k, v] : value.items()) {
        LOUPE_CHECK(v.is_string(), name, ": __metadata__ '", k, "' must be a string, found ", v.dump());
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(name, key, value));
  }

  const uint64_t buffer = bytes.size() - 8 - n;
  const char* base = bytes.data() + 8 + n;
  for (const auto& e : entries) {
    LOUPE_CHECK(e.end >= e.begin, name, ": tensor '", e.name, "': data_offsets [", e.begin, ", ", e.end,
                "] end before begin");
    LOUPE_CHECK(e.end <= buffer, name, ": tensor '", e.name, "': data_offsets [", e.begin, ", ", e.end,
                "] reach beyond the ", buffer, "-byte data buffer (truncated file?)");
    const uint64_t expected = byte_size(e, name);
    LOUPE_CHECK(e.end - e.begin == expected, name, ": tensor '", e.name, "': shape ", torch::IntArrayRef(e.shape),
                " of ", dtype_name(e.type, e.name), " needs ", expected, " bytes, data_offsets [", e.begin, ", ", e.end,
                "] hold ", e.end - e.begin);
  }
  // Overlaps: sorted by begin, each range must start at or after the previous end.
  // Gaps are tolerated; the reference reader rejects them, but they lose no data.
  std::vector<const Entry*> by_begin;
  by_begin.reserve(entries.size());
  for (const auto& e : entries) by_begin.push_back(&e);
  std::sort(by_begin.begin(), by_begin.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  for (size_t i = 1; i < by_begin.size(); ++i) {
    const Entry& a = *by_begin[i - 1];
    const Entry& b = *by_begin[i];
    const bool empty = a.begin == a.end || b.begin == b.end;
    LOUPE_CHECK(empty || b.begin >= a.end, name, ": tensors '", a.name, "' [", a.begin, ", ", a.end, "] and '", b.name,
                "' [", b.begin, ", ", b.end, "] overlap in the data buffer");
  }

  for (const auto& e : entries) {
    const bool is_bool = e.type == torch::kBool;
    auto t = torch::empty(e.shape, is_bool ? torch::kByte : e.type);
    if (e.end > e.begin) std::memcpy(t.data_ptr(), base + e.begin, e.end - e.begin);
    // A bool byte other than 0/1 is undefined behaviour in torch; normalise it.
    out.tensors[e.name] = is_bool ? t.ne(0) : t;
  }
  return out;
}

SafeTensors read_safetensors(const fs::path& path) { return parse_safetensors(read_file(path), path.string()); }

std::string serialize_safetensors(const SafeTensors& st) {
  const Layout l = layout(st);
  std::ostringstream os;
  write_layout(os, l);
  return os.str();
}

void write_safetensors(const fs::path& path, const SafeTensors& st) {
  const Layout l = layout(st);
  write_atomic(path, [&](std::ostream& os) { write_layout(os, l); });
}

}  // namespace loupe
