#include "loupe/core/image.h"

#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

// (jpeglib.h needs <cstdio> above for FILE and size_t.)
#include <jerror.h>  // message codes, to tell harmless warnings from corrupt data
#include <jpeglib.h>
#include <png.h>
#include <torch/torch.h>

#include "loupe/core/error.h"

namespace loupe {

namespace {

// libpng and libjpeg report errors by longjmp. Each decoder below is split in two:
// a C-style function that calls setjmp and owns no C++ object with a destructor
// (a longjmp over one would skip it), working on a plain struct; and a C++ caller
// that turns the struct's outcome into a tensor or a loupe::Error.

constexpr size_t kMessageSize = 256;

// A header may claim any size; the pixels must still come out of the file's bytes, so a
// claim no file that small could hold is refused before anything is allocated for it.
// PNG: deflate expands at most 1032:1 (258 bytes per 2-bit match), and the stored rows
// (before palette or bit-depth expansion) are what it inflates to. JPEG: every 8x8 block
// of a component in a scan costs at least one bit, so a byte holds at most 8 blocks of
// the full-resolution component: 512 pixels.
constexpr uint64_t kDeflateMaxRatio = 1032;
constexpr uint64_t kJpegMaxPixelsPerByte = 512;

void copy_message(char* dst, const char* src) { std::snprintf(dst, kMessageSize, "%s", src ? src : "unknown error"); }

// ---------------------------------------------------------------- PNG read

struct PngDecodeJob {
  const unsigned char* data = nullptr;
  size_t size = 0;
  size_t pos = 0;
  unsigned char* pixels = nullptr;  // malloc'd; the caller frees it on success and failure
  png_bytep* rows = nullptr;        // malloc'd; likewise
  png_uint_32 width = 0, height = 0;
  int channels = 0;
  char message[kMessageSize] = {};
};

void png_read_from_memory(png_structp png, png_bytep out, png_size_t n) {
  auto* job = static_cast<PngDecodeJob*>(png_get_io_ptr(png));
  if (job->size - job->pos < n) png_error(png, "the data ends early");
  std::memcpy(out, job->data + job->pos, n);
  job->pos += n;
}

void png_error_to_job(png_structp png, png_const_charp message) {
  copy_message(static_cast<PngDecodeJob*>(png_get_error_ptr(png))->message, message);
  png_longjmp(png, 1);
}

// Warnings (an unusual colour profile, a bad CRC in an ancillary chunk) leave the
// pixels intact; anything that damages them arrives as an error.
void png_ignore_warning(png_structp, png_const_charp) {}

bool png_decode_raw(PngDecodeJob* job) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, job, png_error_to_job, png_ignore_warning);
  if (!png) {
    copy_message(job->message, "out of memory");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
    return false;
  }
  if (!info) png_error(png, "out of memory");
  png_set_read_fn(png, job, png_read_from_memory);
  // Skip every ancillary chunk but tRNS (the -1 means "all known ones"; they carry
  // nothing loupe uses): libpng would allocate what a text chunk's length field says
  // before finding that the file ends.
  png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, nullptr, -1);
  png_read_info(png, info);
  const uint64_t stored_bytes = uint64_t{png_get_image_height(png, info)} * png_get_rowbytes(png, info);
  if (stored_bytes / kDeflateMaxRatio > job->size) {
    char message[kMessageSize];
    std::snprintf(message, sizeof message,
                  "its header declares %ux%u pixels, %llu bytes of pixel data, more than a %zu-byte file can hold "
                  "(deflate expands at most 1032:1)",
                  png_get_image_width(png, info), png_get_image_height(png, info),
                  static_cast<unsigned long long>(stored_bytes), job->size);
    png_error(png, message);
  }

  const int color_type = png_get_color_type(png, info);
  const int bit_depth = png_get_bit_depth(png, info);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  // scale_16 rounds (v*255/65535); strip_16 would truncate to the high byte.
  if (bit_depth == 16) png_set_scale_16(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);

  job->width = png_get_image_width(png, info);
  job->height = png_get_image_height(png, info);
  job->channels = png_get_channels(png, info);
  const size_t row_bytes = png_get_rowbytes(png, info);
  if (row_bytes != size_t(job->width) * size_t(job->channels)) png_error(png, "unexpected row size after transforms");
  job->pixels = static_cast<unsigned char*>(std::malloc(row_bytes * job->height));
  job->rows = static_cast<png_bytep*>(std::malloc(sizeof(png_bytep) * job->height));
  if (!job->pixels || !job->rows) png_error(png, "out of memory");
  for (png_uint_32 y = 0; y < job->height; ++y) job->rows[y] = job->pixels + y * row_bytes;
  png_read_image(png, job->rows);
  // Reading up to IEND makes a file cut after its pixel data an error too.
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

// ---------------------------------------------------------------- JPEG read

struct JpegErrorManager {
  jpeg_error_mgr mgr;  // first member: libjpeg hands back a pointer to it
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

struct JpegDecodeJob {
  const unsigned char* data = nullptr;
  size_t size = 0;
  unsigned char* pixels = nullptr;  // malloc'd; the caller frees it
  JDIMENSION width = 0, height = 0;
  int channels = 0;
  char message[kMessageSize] = {};
};

void jpeg_error_exit_to_jump(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// libjpeg only warns on corrupt or truncated data (it pads a truncated file with
// grey and carries on); a silently damaged image is worse than an error, so every
// warning fails except the two that leave the pixels intact.
void jpeg_warning_is_error(j_common_ptr cinfo, int msg_level) {
  if (msg_level >= 0) return;  // trace messages
  const int code = cinfo->err->msg_code;
  if (code == JWRN_JFIF_MAJOR || code == JWRN_ADOBE_XFORM) return;
  jpeg_error_exit_to_jump(cinfo);
}

bool jpeg_decode_raw(JpegDecodeJob* job) {
  jpeg_decompress_struct cinfo{};  // zeroed, so destroying it after an early error is safe
  JpegErrorManager err{};
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_error_exit_to_jump;
  err.mgr.emit_message = jpeg_warning_is_error;
  err.message[0] = '\0';
  if (setjmp(err.jump)) {
    copy_message(job->message, err.message);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, job->data, static_cast<unsigned long>(job->size));
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    copy_message(job->message, "CMYK JPEG images are not supported; convert the file to RGB");
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  const uint64_t pixels = uint64_t{cinfo.image_width} * cinfo.image_height;
  if (pixels / kJpegMaxPixelsPerByte > job->size) {
    std::snprintf(job->message, kMessageSize,
                  "its header declares %ux%u pixels, more than a %zu-byte file can hold "
                  "(at least one bit per 8x8 block)",
                  cinfo.image_width, cinfo.image_height, job->size);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  cinfo.out_color_space = cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  job->width = cinfo.output_width;
  job->height = cinfo.output_height;
  job->channels = cinfo.output_components;
  const size_t row_bytes = size_t(job->width) * size_t(job->channels);
  job->pixels = static_cast<unsigned char*>(std::malloc(row_bytes * job->height));
  if (!job->pixels) {
    copy_message(job->message, "out of memory");
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = job->pixels + size_t(cinfo.output_scanline) * row_bytes;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

// ---------------------------------------------------------------- PNG write

struct PngEncodeJob {
  const unsigned char* pixels = nullptr;  // [H,W,C] uint8, contiguous
  png_uint_32 width = 0, height = 0;
  int channels = 0;
  std::string* out = nullptr;
  char message[kMessageSize] = {};
};

void png_write_to_string(png_structp png, png_bytep data, png_size_t n) {
  auto* job = static_cast<PngEncodeJob*>(png_get_io_ptr(png));
  // No C++ exception may cross libpng's C frames, so a failed append becomes a png_error.
  bool ok = true;
  try {
    job->out->append(reinterpret_cast<const char*>(data), n);
  } catch (...) {
    ok = false;
  }
  if (!ok) png_error(png, "out of memory");
}

void png_flush_nothing(png_structp) {}

void png_encode_error_to_job(png_structp png, png_const_charp message) {
  copy_message(static_cast<PngEncodeJob*>(png_get_error_ptr(png))->message, message);
  png_longjmp(png, 1);
}

bool png_encode_raw(PngEncodeJob* job) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, job, png_encode_error_to_job, png_ignore_warning);
  if (!png) {
    copy_message(job->message, "out of memory");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, info ? &info : nullptr);
    return false;
  }
  if (!info) png_error(png, "out of memory");
  static const int kColorType[] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                   PNG_COLOR_TYPE_RGB_ALPHA};
  png_set_write_fn(png, job, png_write_to_string, png_flush_nothing);
  png_set_IHDR(png, info, job->width, job->height, 8, kColorType[job->channels], PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  const size_t row_bytes = size_t(job->width) * size_t(job->channels);
  for (png_uint_32 y = 0; y < job->height; ++y) png_write_row(png, const_cast<png_bytep>(job->pixels + y * row_bytes));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

// ---------------------------------------------------------------- helpers

// Takes ownership of a malloc'd [H,W,C] uint8 buffer and returns float [C,H,W] in [0,1].
torch::Tensor pixels_to_tensor(unsigned char* pixels, int64_t height, int64_t width, int64_t channels) {
  auto hwc = torch::from_blob(
      pixels, {height, width, channels}, [](void* p) { std::free(p); }, torch::kUInt8);
  return hwc.permute({2, 0, 1}).to(torch::kFloat32).div_(255.0f).contiguous();
}

torch::Tensor luma(const torch::Tensor& rgb) {
  // ITU-R BT.601 luma weights.
  return (rgb[0] * 0.299f + rgb[1] * 0.587f + rgb[2] * 0.114f).unsqueeze(0);
}

torch::Tensor convert_channels(const torch::Tensor& img, int channels) {
  const int64_t have = img.size(0);
  if (channels == 0 || channels == have) return img;
  const bool has_alpha = have == 2 || have == 4;
  const auto color = has_alpha ? img.narrow(0, 0, have - 1) : img;
  const auto alpha = has_alpha ? img.narrow(0, have - 1, 1) : torch::ones_like(img.narrow(0, 0, 1));
  const auto gray = color.size(0) == 1 ? color : luma(color);
  const auto rgb = color.size(0) == 3 ? color : color.expand({3, -1, -1});
  switch (channels) {
    case 1:
      return gray.contiguous();
    case 2:
      return torch::cat({gray, alpha}).contiguous();
    case 3:
      return rgb.contiguous();
    default:
      return torch::cat({rgb, alpha}).contiguous();
  }
}

bool starts_with(const std::string& bytes, const unsigned char* magic, size_t n) {
  return bytes.size() >= n && std::memcmp(bytes.data(), magic, n) == 0;
}

}  // namespace

torch::Tensor decode_image(const std::string& bytes, const std::string& name, int channels) {
  LOUPE_CHECK(channels >= 0 && channels <= 4, name, ": asked for ", channels,
              " channels; expected 0 (keep the file's), 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA)");
  static const unsigned char kPngMagic[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  static const unsigned char kJpegMagic[] = {0xff, 0xd8, 0xff};
  torch::Tensor img;
  if (starts_with(bytes, kPngMagic, sizeof kPngMagic)) {
    PngDecodeJob job;
    job.data = reinterpret_cast<const unsigned char*>(bytes.data());
    job.size = bytes.size();
    const bool ok = png_decode_raw(&job);
    std::free(job.rows);
    if (!ok) {
      std::free(job.pixels);
      fail(name, ": not a valid PNG (", job.message, "; is the file truncated or corrupt?)");
    }
    img = pixels_to_tensor(job.pixels, job.height, job.width, job.channels);
  } else if (starts_with(bytes, kJpegMagic, sizeof kJpegMagic)) {
    JpegDecodeJob job;
    job.data = reinterpret_cast<const unsigned char*>(bytes.data());
    job.size = bytes.size();
    if (!jpeg_decode_raw(&job)) {
      std::free(job.pixels);
      fail(name, ": not a valid JPEG (", job.message, "; is the file truncated or corrupt?)");
    }
    img = pixels_to_tensor(job.pixels, job.height, job.width, job.channels);
  } else {
    LOUPE_CHECK(!bytes.empty(), name, ": empty file; expected a PNG or JPEG image");
    fail(name, ": unknown image format (", bytes.size(),
         " bytes without a PNG or JPEG signature); expected a PNG or JPEG file");
  }
  return convert_channels(img, channels);
}

torch::Tensor read_image(const fs::path& path, int channels) {
  return decode_image(read_file(path), path.string(), channels);
}

void check_finite(const torch::Tensor& t, const std::string& what) {
  if (!t.defined() || !(t.is_floating_point() || t.is_complex())) return;
  if (torch::isfinite(t).all().item<bool>()) return;
  const auto nan = torch::isnan(t).sum().item<int64_t>();
  const auto inf = torch::isinf(t).sum().item<int64_t>();
  fail(what, ": contains ", nan, " NaN and ", inf, " infinite value(s); expected finite values");
}

std::string encode_png(const torch::Tensor& image) {
  LOUPE_CHECK(image.defined(), "encode_png: expected an image tensor, got an undefined tensor");
  LOUPE_CHECK(image.dim() == 2 || image.dim() == 3, "encode_png: expected an image [C,H,W] or [H,W], got shape ",
              image.sizes());
  auto chw = (image.dim() == 2 ? image.unsqueeze(0) : image).detach().cpu();
  const int64_t c = chw.size(0), h = chw.size(1), w = chw.size(2);
  LOUPE_CHECK(c >= 1 && c <= 4, "encode_png: expected 1, 2, 3 or 4 channels (shape [C,H,W]), got shape ",
              image.sizes());
  LOUPE_CHECK(h > 0 && w > 0 && h <= 0x7fffffff && w <= 0x7fffffff, "encode_png: image size ", h, "x", w,
              " is not a valid PNG size");
  if (chw.is_floating_point()) {
    check_finite(chw, "encode_png: image");
    chw = to_uint8_image(chw);
  } else {
    LOUPE_CHECK(chw.scalar_type() == torch::kUInt8, "encode_png: expected float values in [0,1] or uint8, got ",
                chw.scalar_type());
  }
  const auto hwc = chw.permute({1, 2, 0}).contiguous();
  std::string out;
  out.reserve(static_cast<size_t>(h * w * c / 2 + 1024));
  PngEncodeJob job;
  job.pixels = hwc.data_ptr<uint8_t>();
  job.width = static_cast<png_uint_32>(w);
  job.height = static_cast<png_uint_32>(h);
  job.channels = static_cast<int>(c);
  job.out = &out;
  LOUPE_CHECK(png_encode_raw(&job), "encode_png: libpng failed (", job.message, ")");
  return out;
}

void write_png(const fs::path& path, const torch::Tensor& image) {
  std::string bytes;
  try {
    bytes = encode_png(image);
  } catch (const Error& e) {
    fail(path.string(), ": ", e.what());
  }
  write_file_atomic(path, bytes);
}

torch::Tensor to_uint8_image(const torch::Tensor& unit_float) {
  return unit_float.to(torch::kFloat32).clamp(0.0, 1.0).mul(255.0f).add_(0.5f).floor_().to(torch::kUInt8);
}

torch::Tensor resize_image(const torch::Tensor& image, int64_t height, int64_t width) {
  LOUPE_CHECK(image.dim() == 3 && height >= 1 && width >= 1, "resize: expected an image [C,H,W] and a size >= 1, got ",
              image.sizes(), " to ", height, "x", width);
  if (image.size(1) == height && image.size(2) == width) return image;
  namespace F = torch::nn::functional;
  const bool down = height <= image.size(1) && width <= image.size(2);
  auto o = F::InterpolateFuncOptions().size(std::vector<int64_t>{height, width});
  o = down ? o.mode(torch::kArea) : o.mode(torch::kBilinear).align_corners(false);
  return F::interpolate(image.unsqueeze(0).to(torch::kFloat), o).squeeze(0).clamp(0, 1);
}

torch::Tensor load_image(const fs::path& path, const ImageLoadOptions& options) {
  LOUPE_CHECK(options.channels == 1 || options.channels == 3, path.string(), ": asked for ", options.channels,
              " channels; expected 1 (gray) or 3 (RGB)");
  LOUPE_CHECK(options.size >= 0, path.string(), ": image size ", options.size, "; expected 0 (keep) or more");
  auto img = read_image(path);
  if (img.size(0) == 2 || img.size(0) == 4) {
    const auto alpha = img.narrow(0, img.size(0) - 1, 1);
    const auto color = img.narrow(0, 0, img.size(0) - 1);
    img = options.composite_on_white ? color * alpha + (1 - alpha) : color.contiguous();
  }
  if (options.channels == 3 && img.size(0) == 1) img = img.expand({3, -1, -1}).contiguous();
  if (options.channels == 1 && img.size(0) == 3) img = luma(img).contiguous();
  if (options.centre_crop) {
    const int64_t h = img.size(1), w = img.size(2), side = std::min(h, w);
    img = img.narrow(1, (h - side) / 2, side).narrow(2, (w - side) / 2, side);
  }
  if (options.size > 0) img = resize_image(img, options.size, options.size);
  return img;
}

}  // namespace loupe
