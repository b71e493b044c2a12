#include "loupe/data/mnist.h"

#include <torch/torch.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "loupe/core/error.h"

namespace loupe {
namespace {

bool is_gzip(const std::string& bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

struct Inflated {
  std::string bytes;
  bool complete = false;  // the stream's end marker (and CRC trailer) was reached
};

// Decodes every gzip member in `gz` (gzip allows concatenated members). A stream
// that stops early is returned with complete = false rather than thrown, so the
// caller can report how many bytes the IDX header promised versus what arrived.
Inflated gunzip(const std::string& gz, const std::string& name) {
  Inflated out;
  // ISIZE, the last 4 bytes, is the uncompressed size mod 2^32: a good first guess,
  // bounded by deflate's maximum ratio (~1032:1) in case the trailer is cut off.
  if (gz.size() >= 18) {
    uint32_t isize = 0;
    for (int i = 3; i >= 0; --i) isize = (isize << 8) | static_cast<unsigned char>(gz[gz.size() - 4 + i]);
    out.bytes.reserve(std::min<size_t>({isize, gz.size() * 1040, size_t{1} << 30}));
  }
  z_stream zs{};
  LOUPE_CHECK(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK, name, ": cannot initialise zlib");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  size_t in_left = gz.size();
  constexpr size_t kChunk = size_t{1} << 20;
  std::string buffer(kChunk, '\0');
  int rc = Z_OK;
  while (true) {
    const auto in_now = static_cast<uInt>(std::min<size_t>(in_left, std::numeric_limits<uInt>::max()));
    zs.avail_in = in_now;
    zs.next_out = reinterpret_cast<Bytef*>(buffer.data());
    zs.avail_out = static_cast<uInt>(buffer.size());
    rc = inflate(&zs, Z_NO_FLUSH);
    in_left -= in_now - zs.avail_in;
    out.bytes.append(buffer.data(), buffer.size() - zs.avail_out);
    if (rc == Z_STREAM_END) {
      // Another member follows only if it starts with the gzip magic; trailing
      // zero padding (written by some tools) is ignored.
      const auto* next = reinterpret_cast<const unsigned char*>(zs.next_in);
      if (in_left >= 2 && next[0] == 0x1f && next[1] == 0x8b) {
        inflateReset(&zs);
        continue;
      }
      out.complete = true;
      break;
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR && in_left == 0) break;  // input ran out mid-stream: truncated
    const std::string msg = zs.msg ? zs.msg : "error " + std::to_string(rc);
    inflateEnd(&zs);
    fail(name, ": corrupt gzip stream (zlib: ", msg, ") after ", out.bytes.size(), " decoded bytes");
  }
  inflateEnd(&zs);
  return out;
}

std::string hex_byte(unsigned char b) {
  const char* digits = "0123456789abcdef";
  return std::string("0x") + digits[b >> 4] + digits[b & 15];
}

const char* idx_type_name(unsigned char type) {
  switch (type) {
    case 0x08:
      return "uint8";
    case 0x09:
      return "int8";
    case 0x0B:
      return "int16";
    case 0x0C:
      return "int32";
    case 0x0D:
      return "float32";
    case 0x0E:
      return "float64";
    default:
      return "unknown";
  }
}

// The first of `names` present in dir, or an error listing every name tried.
fs::path find_one(const fs::path& dir, const std::vector<std::string>& names, const std::string& hint) {
  for (const auto& n : names) {
    std::error_code ec;
    if (fs::is_regular_file(dir / n, ec)) return dir / n;
  }
  std::string tried;
  for (size_t i = 0; i < names.size(); ++i) tried += (i ? ", " : "") + names[i];
  fail(dir.string(), ": no IDX file found; looked for ", tried, hint);
}

TensorDataset load_idx_pair(const fs::path& dir, const std::string& split, std::vector<std::string> classes,
                            const std::string& hint) {
  LOUPE_CHECK(split == "train" || split == "test", "split '", split, "': expected train or test");
  std::error_code ec;
  LOUPE_CHECK(fs::is_directory(dir, ec), dir.string(), ": folder not found (expected the IDX files ",
              split == "train" ? "train" : "t10k", "-images-idx3-ubyte[.gz] and ", split == "train" ? "train" : "t10k",
              "-labels-idx1-ubyte[.gz] there)", hint);
  const std::string prefix = split == "train" ? "train" : "t10k";
  // The dotted names are how some mirrors (e.g. Kaggle's) ship the same files.
  const auto names = [&](const std::string& kind, const std::string& idx) {
    const std::string base = prefix + "-" + kind + "-" + idx + "-ubyte";
    return std::vector<std::string>{base, base + ".gz", prefix + "-" + kind + "." + idx + "-ubyte"};
  };
  const fs::path images_path = find_one(dir, names("images", "idx3"), hint);
  const fs::path labels_path = find_one(dir, names("labels", "idx1"), hint);

  torch::Tensor images = read_idx(images_path);
  torch::Tensor labels = read_idx(labels_path);
  LOUPE_CHECK(images.dim() == 3, images_path.string(), ": expected images [N,H,W] (3 dimensions), found ", images.dim(),
              " dimensions ", images.sizes());
  LOUPE_CHECK(labels.dim() == 1, labels_path.string(), ": expected labels [N] (1 dimension), found ", labels.dim(),
              " dimensions ", labels.sizes());
  LOUPE_CHECK(images.size(0) == labels.size(0), images_path.string(), " holds ", images.size(0), " images but ",
              labels_path.string(), " holds ", labels.size(0), " labels; expected the same count");
  if (labels.numel() > 0) {
    const int64_t hi = labels.max().item<int64_t>();
    LOUPE_CHECK(hi < static_cast<int64_t>(classes.size()), labels_path.string(), ": label ", hi,
                " found, expected labels in [0,", classes.size(), ")");
  }
  images = images.unsqueeze(1).contiguous();
  return TensorDataset(images, labels.to(torch::kLong), std::move(classes));
}

}  // namespace

torch::Tensor decode_idx(std::string bytes, const std::string& name) {
  bool gz_complete = true;
  if (is_gzip(bytes)) {
    auto inflated = gunzip(bytes, name);
    bytes = std::move(inflated.bytes);
    gz_complete = inflated.complete;
  }
  const std::string stream_note = gz_complete ? "" : " (the gzip stream is truncated)";
  const auto u8 = [&](size_t i) { return static_cast<unsigned char>(bytes[i]); };

  LOUPE_CHECK(bytes.size() >= 4, name, ": truncated IDX file: expected at least 4 header bytes, found ", bytes.size(),
              stream_note);
  LOUPE_CHECK(u8(0) == 0 && u8(1) == 0, name, ": not an IDX file: expected the magic to start with 0x00 0x00, found ",
              hex_byte(u8(0)), " ", hex_byte(u8(1)));
  const unsigned char type = u8(2);
  LOUPE_CHECK(type == 0x08, name, ": IDX element type ", hex_byte(type), " (", idx_type_name(type),
              ") is not supported; expected 0x08 (uint8)");
  const size_t ndim = u8(3);
  LOUPE_CHECK(ndim >= 1, name, ": IDX header declares 0 dimensions; expected at least 1");
  const size_t header = 4 + 4 * ndim;
  LOUPE_CHECK(bytes.size() >= header, name, ": truncated IDX file: expected ", header, " header bytes for ", ndim,
              " dimensions, found ", bytes.size(), stream_note);

  std::vector<int64_t> dims(ndim);
  uint64_t count = 1;
  for (size_t d = 0; d < ndim; ++d) {
    const size_t o = 4 + 4 * d;
    const uint32_t v = (uint32_t{u8(o)} << 24) | (uint32_t{u8(o + 1)} << 16) | (uint32_t{u8(o + 2)} << 8) | u8(o + 3);
    dims[d] = v;
    // 2^40 bytes is far beyond any real IDX file; the bound keeps the product from overflowing.
    LOUPE_CHECK(v == 0 || count <= (uint64_t{1} << 40) / v, name, ": IDX dimensions ", torch::IntArrayRef(dims),
                " are implausibly large");
    count *= v;
  }
  const uint64_t expected = header + count;
  LOUPE_CHECK(bytes.size() >= expected, name, ": truncated IDX file: dimensions ", torch::IntArrayRef(dims), " imply ",
              expected, " bytes, found ", bytes.size(), stream_note);
  LOUPE_CHECK(bytes.size() == expected, name, ": IDX file has trailing data: dimensions ", torch::IntArrayRef(dims),
              " imply ", expected, " bytes, found ", bytes.size());
  LOUPE_CHECK(gz_complete, name, ": truncated gzip stream: the IDX data (", expected,
              " bytes) decoded but the gzip trailer is missing");

  auto out = torch::empty(dims, torch::kUInt8);
  if (count > 0) std::memcpy(out.data_ptr<uint8_t>(), bytes.data() + header, count);
  return out;
}

torch::Tensor read_idx(const fs::path& path) { return decode_idx(read_file(path), path.string()); }

std::vector<std::string> fashion_mnist_classes() {
  return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
}

std::vector<std::string> mnist_classes() { return {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}; }

TensorDataset load_mnist_like(const fs::path& dir, const std::string& split, std::vector<std::string> classes) {
  return load_idx_pair(dir, split, std::move(classes), "");
}

TensorDataset load_fashion_mnist(const std::string& split, const fs::path& dir) {
  // Said for any folder, not just the default: a user pointing elsewhere may not know the package exists.
  const std::string hint = std::string(
                               " (FashionMNIST ships in the Debian package dataset-fashion-mnist, which installs it "
                               "under ") +
                           kFashionMnistDir + ": apt-get install dataset-fashion-mnist)";
  return load_idx_pair(dir, split, fashion_mnist_classes(), hint);
}

TensorDataset load_mnist(const fs::path& dir, const std::string& split) {
  return load_mnist_like(dir, split, mnist_classes());
}

}  // namespace loupe
