// decode_image (PNG via libpng, JPEG via libjpeg) on arbitrary bytes, asking for the
// channel count size % 5. A decoded image must be float [C,H,W] in [0,1], and survive
// encode_png/decode_image to within half a level.
#include <torch/torch.h>
#include <zlib.h>

#include <cstring>

#include "fuzz_input.h"
#include "loupe/core/image.h"

namespace {

uint32_t read_be32(const std::string& s, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

// libpng refuses a critical chunk whose CRC does not match, so mutated headers would
// hardly ever get past it: most inputs get every complete chunk's CRC recomputed.
void fix_png_crcs(std::string& png) {
  if (png.size() < 8 || std::memcmp(png.data(), "\x89PNG\r\n\x1a\n", 8) != 0) return;
  for (size_t at = 8; at + 12 <= png.size();) {
    const size_t length = read_be32(png, at);
    if (length > png.size() - at - 12) return;
    const uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(png.data() + at + 4), static_cast<uInt>(length + 4));
    for (size_t i = 0; i < 4; ++i) png[at + 8 + length + i] = static_cast<char>((crc >> (24 - 8 * i)) & 0xff);
    at += 12 + length;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace loupe;
  const int channels = static_cast<int>(size % 5);
  std::string bytes = fuzz::input_bytes(data, size);
  if ((size / 5) % 4 != 0) fix_png_crcs(bytes);
  fuzz::refuse_only_with_loupe_errors([&] {
    const auto img = decode_image(bytes, "fuzz.img", channels);
    fuzz::require(img.scalar_type() == torch::kFloat && img.dim() == 3 && img.size(0) >= 1 && img.size(0) <= 4,
                  "image decodes to float [C,H,W] with C in 1..4");
    fuzz::require(channels == 0 || img.size(0) == channels, "image has the channels asked for");
    fuzz::require(img.min().item<float>() >= 0.0f && img.max().item<float>() <= 1.0f, "image values in [0,1]");
    // Exact for the file's own 8-bit values; converted ones (luma) round to the nearest 1/255.
    if (img.numel() <= (1 << 16))
      fuzz::require((decode_image(encode_png(img), "re-encoded.png") - img).abs().max().item<float>() <= 0.5f / 255,
                    "PNG encode/decode round trip within half a level");
  });
  return 0;
}
