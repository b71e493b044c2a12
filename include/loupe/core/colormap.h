// Colormaps, heatmap overlays, colour bars and labelled image grids, all as LibTorch
// ops (they run on any device). Jet and viridis for magnitudes; a blue-white-red
// diverging map for signed maps (zero is white).
#pragma once

#include <string>
#include <vector>

#include <torch/types.h>

namespace loupe {

enum class Colormap { jet, viridis, diverging };
Colormap colormap_from_name(const std::string& name);  // "jet" | "viridis" | "diverging"

// values [H,W] → RGB [3,H,W] in [0,1] (or [...,H,W] → [...,3,H,W]), on the values'
// device. Values are mapped linearly from [lo,hi] to [0,1] and clamped; NaN is an
// error. For the diverging map use lo = -hi so 0 maps to white.
torch::Tensor apply_colormap(const torch::Tensor& values, Colormap map, double lo = 0.0, double hi = 1.0);

// Blends a heatmap onto an image: image [C,H,W] (C = 1 or 3) in [0,1]; heat [h,w] in
// [0,1] (resized bilinearly to H,W). out = (1-alpha)*image + alpha*colormap(heat).
torch::Tensor overlay_heatmap(const torch::Tensor& image, const torch::Tensor& heat, double alpha = 0.5,
                              Colormap map = Colormap::jet);

// The image [C,H,W] (C = 1 or 3, in [0,1]) as RGB with the outline of `mask` (bool or 0/1
// [H,W]) painted in `rgb`: the mask's pixels that touch (4-neighbourhood) a pixel outside
// it or the image border. A mask thinner than three pixels is all outline.
torch::Tensor draw_outline(const torch::Tensor& image, const torch::Tensor& mask, std::vector<float> rgb = {1.f, 0.f, 0.f});

// A vertical colour bar [3,height,width] with the low value at the bottom.
torch::Tensor colorbar(int64_t height, int64_t width, Colormap map);

// Draws text with the built-in 5x7 bitmap font onto image [3,H,W] at (x,y) (top
// left of the first glyph), in place, clipped to the image; '\n' starts a new line.
// scale multiplies the glyph size. Characters outside printable ASCII draw as '?'.
// rgb has one value per image channel.
void draw_text(torch::Tensor& image, const std::string& text, int64_t x, int64_t y, int scale = 1,
               std::vector<float> rgb = {1.f, 1.f, 1.f});

// Size in pixels of the box draw_text fills for `text` at `scale`.
int64_t text_width(const std::string& text, int scale = 1);
int64_t text_height(const std::string& text, int scale = 1);

struct GridOptions {
  GridOptions(int64_t cols) : cols_(cols) {}
  int64_t cols_;
  int64_t cell_size_ = 0;   // each image is scaled to fit a cell_size square (aspect kept; nearest
                            // for integer upscaling, else bilinear); 0 keeps sizes
  int64_t padding_ = 2;     // pixels between cells
  int text_scale_ = 1;      // font scale for labels
  GridOptions& cell_size(int64_t v) { cell_size_ = v; return *this; }
  GridOptions& padding(int64_t v) { padding_ = v; return *this; }
  GridOptions& text_scale(int v) { text_scale_ = v; return *this; }
};

// Lays images ([C,H,W], C = 1 or 3, in [0,1], or uint8) out in a grid on a white
// background, each centred in its cell with its label (may be empty; cut with ".."
// when wider than the cell) printed above it; row_labels (optional) are printed left
// of each row. Returns RGB [3,H,W] on the first image's device.
torch::Tensor image_grid(const std::vector<torch::Tensor>& images, const std::vector<std::string>& labels,
                         const GridOptions& options, const std::vector<std::string>& row_labels = {});

}  // namespace loupe
