// Byte-level builders for the file formats loupe reads but never writes (hand-made
// PNGs, JPEGs from libjpeg, IDX, gzip): shared by the tests and the fuzzing seed
// corpus (fuzz/make_seeds.cpp). No GoogleTest here; a builder that fails aborts.
#pragma once

#include <jpeglib.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace loupe::test {

inline std::string be32(uint32_t v) {
  std::string s;
  for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>((v >> shift) & 0xff));
  return s;
}

// One PNG chunk: length, type, data, CRC-32 of type and data.
inline std::string png_chunk(const std::string& type, const std::string& data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(type.data()), 4);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size()));
  return be32(static_cast<uint32_t>(data.size())) + type + data + be32(static_cast<uint32_t>(crc));
}

inline std::string zlib_compress(const std::string& bytes) {
  uLongf packed_size = compressBound(static_cast<uLong>(bytes.size()));
  std::string packed(packed_size, '\0');
  if (compress(reinterpret_cast<Bytef*>(&packed[0]), &packed_size, reinterpret_cast<const Bytef*>(bytes.data()),
               static_cast<uLong>(bytes.size())) != Z_OK)
    std::abort();
  packed.resize(packed_size);
  return packed;
}

// A PNG assembled by hand (signature, IHDR, extra chunks, one zlib-compressed IDAT,
// IEND) so tests can produce what loupe never writes: palette, 1-bit, 16-bit,
// interlaced. scanlines: each row (each Adam7 pass row when interlaced) prefixed
// with its filter byte (0 = none).
inline std::string hand_png(uint32_t width, uint32_t height, int bit_depth, int color_type,
                            const std::string& scanlines,
                            const std::vector<std::pair<std::string, std::string>>& extra_chunks = {},
                            bool interlaced = false) {
  std::string ihdr = be32(width) + be32(height);
  ihdr += {static_cast<char>(bit_depth), static_cast<char>(color_type), 0, 0, static_cast<char>(interlaced)};
  std::string png = "\x89PNG\r\n\x1a\n";
  png += png_chunk("IHDR", ihdr);
  for (const auto& [type, data] : extra_chunks) png += png_chunk(type, data);
  return png + png_chunk("IDAT", zlib_compress(scanlines)) + png_chunk("IEND", "");
}

// A JPEG from libjpeg's own compressor (loupe has no JPEG writer). pixels: [H,W,C]
// bytes; channels 1 (gray), 3 (RGB) or 4 (CMYK).
inline std::string encode_jpeg(const std::vector<unsigned char>& pixels, int width, int height, int channels,
                               int quality, bool progressive = false) {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr jerr;
  cinfo.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&cinfo);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = width;
  cinfo.image_height = height;
  cinfo.input_components = channels;
  cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : channels == 3 ? JCS_RGB : JCS_CMYK;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  if (progressive) jpeg_simple_progression(&cinfo);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<unsigned char*>(pixels.data()) + size_t(cinfo.next_scanline) * width * channels;
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::string out(reinterpret_cast<char*>(buffer), size);
  std::free(buffer);
  return out;
}

// An IDX uint8 file: 00 00 08 ndim, big-endian dims, then the bytes.
inline std::string idx_bytes(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
  std::string s = {'\0', '\0', '\x08', static_cast<char>(dims.size())};
  for (uint32_t d : dims) s += be32(d);
  s.append(data.begin(), data.end());
  return s;
}

// One gzip member holding `bytes` (what gzip(1) and gzwrite produce).
inline std::string gzip_bytes(const std::string& bytes) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) std::abort();
  std::string out(deflateBound(&zs, static_cast<uLong>(bytes.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  zs.avail_in = static_cast<uInt>(bytes.size());
  zs.next_out = reinterpret_cast<Bytef*>(&out[0]);
  zs.avail_out = static_cast<uInt>(out.size());
  if (deflate(&zs, Z_FINISH) != Z_STREAM_END) std::abort();
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

}  // namespace loupe::test
