// Superpixel segmentations for perturbation explainers, written with LibTorch ops so
// they run on the model's device: quickshift (Vedaldi & Soatto 2008, with LIME's image
// defaults: kernel 4, max distance 200, ratio 0.2, on CIELAB), SLIC (Achanta et al.
// 2012, as scikit-image: n_segments, compactness, on CIELAB), and regular grid cells.
// Every segmentation is int64 [H,W] with labels 0..K-1, each label used, numbered in
// raster order of each segment's first pixel, and (for SLIC after clean-up, and
// quickshift with `connect`) spatially 4-connected.
// Choices where definitions differ (details in src/explain/{quickshift,slic}.cpp):
// - quickshift follows skimage's _quickshift_cython (window radius ceil(3σ), colour
//   scaled by ratio, parent = nearest higher-density pixel in the window, links longer
//   than max_dist cut), with skimage's density jitter (1e-5, seeded here; tie_jitter 0
//   breaks ties by pixel index instead); like skimage (and so
//   lime), a tree is one label even where it is not 4-connected (a tree may link across
//   another's pixels); `connect` splits such trees into 4-connected segments (loupe 0.1's
//   default: 67 segments instead of skimage's 35 on the astronaut photo at 224 px);
// - SLIC follows skimage's slic() step for step (global min-max rescale, Lab, smoothing,
//   regular_grid centres, zero initial colour, spatial weight 1/step², every centre
//   scoring its ±2·step box, float64, connectivity enforcement with min/max size factors
//   0.5/3): identical labels on the photos checked (scripts/compare_segmentation.py).
#pragma once

#include <cstdint>
#include <string>

#include <torch/types.h>

namespace loupe {

struct QuickshiftOptions {
  double kernel_size = 4.0;  // Gaussian σ of the density estimate, in pixels
  double max_dist = 200.0;   // links longer than this (in the joint space) are cut
  double ratio = 0.2;        // weight of colour against position, in [0,1]
  double sigma = 0.0;        // Gaussian pre-smoothing of the image (0 = none)
  // Gaussian noise of this standard deviation added to the densities (in double) before
  // parents are chosen, drawn from `seed`: scikit-image (and so lime) adds 1e-5, so that
  // flat regions (a plain background) split into window-sized segments instead of one;
  // its draws are NumPy's, so such regions split differently, as they do in scikit-image
  // from one seed to another. 0 breaks ties by pixel index (a flat region stays one
  // segment).
  double tie_jitter = 1e-5;
  uint64_t seed = 0;
  // Split trees that are not 4-connected into connected segments. Off by default, as
  // scikit-image's quickshift (which lime uses) leaves them whole.
  bool connect = false;
  QuickshiftOptions& set_connect(bool v) { connect = v; return *this; }
  QuickshiftOptions& set_tie_jitter(double v) { tie_jitter = v; return *this; }
  QuickshiftOptions& set_seed(uint64_t v) { seed = v; return *this; }
  QuickshiftOptions& set_kernel_size(double v) { kernel_size = v; return *this; }
  QuickshiftOptions& set_max_dist(double v) { max_dist = v; return *this; }
  QuickshiftOptions& set_ratio(double v) { ratio = v; return *this; }
  QuickshiftOptions& set_sigma(double v) { sigma = v; return *this; }
};

struct SlicOptions {
  int64_t n_segments = 100;  // approximate number of segments wanted
  double compactness = 10.0; // colour against space: higher = squarer segments
  int64_t max_iter = 10;     // k-means iterations
  double sigma = 0.0;        // Gaussian pre-smoothing of the image (0 = none)
  SlicOptions& set_n_segments(int64_t v) { n_segments = v; return *this; }
  SlicOptions& set_compactness(double v) { compactness = v; return *this; }
  SlicOptions& set_max_iter(int64_t v) { max_iter = v; return *this; }
  SlicOptions& set_sigma(double v) { sigma = v; return *this; }
};

struct SegmentOptions {
  std::string method = "quickshift";  // quickshift | slic | grid
  QuickshiftOptions quickshift;
  SlicOptions slic;
  int64_t grid_cell = 8;  // cell side in pixels for method = grid
  SegmentOptions& set_method(std::string v) { method = std::move(v); return *this; }
  SegmentOptions& set_quickshift(QuickshiftOptions v) { quickshift = v; return *this; }
  SegmentOptions& set_slic(SlicOptions v) { slic = v; return *this; }
  SegmentOptions& set_grid_cell(int64_t v) { grid_cell = v; return *this; }
};

// sRGB [3,H,W] (or [N,3,H,W]) in [0,1] → CIELAB (D65), same layout, L in [0,100].
torch::Tensor rgb_to_lab(const torch::Tensor& rgb);

// image: float [C,H,W] in [0,1] (C = 1 or 3; gray is treated as RGB), any device;
// computed in float32 (float64 for a float64 image). Returns int64 [H,W] labels 0..K-1
// on the image's device. Non-3D images, other channel counts, NaN/inf and bad options
// are a loupe::Error naming the input.
torch::Tensor quickshift(const torch::Tensor& image, const QuickshiftOptions& options = {});
torch::Tensor slic(const torch::Tensor& image, const SlicOptions& options = {});
// Quickshift with the kernel size chosen per image so that it gives about `wanted`
// segments: a bisection on log(kernel_size) between 0.5 and 8 pixels (larger kernels give
// fewer density modes, so fewer segments) over `iterations` quickshift runs, keeping the
// other options; the count nearest `wanted` wins (on a tie, the one not above it). LIME's
// fixed kernel 4 gives only 5-16 segments on 64-128 px industrial parts.
torch::Tensor quickshift_near(const torch::Tensor& image, int64_t wanted, QuickshiftOptions options = {},
                              int64_t iterations = 8);
torch::Tensor grid_segments(int64_t height, int64_t width, int64_t cell, torch::Device device = torch::kCPU);
// Dispatches on options.method; errors name the method and list the valid ones.
torch::Tensor segment(const torch::Tensor& image, const SegmentOptions& options = {});

// Relabels so every label is one 4-connected region, labels 0..K-1 in raster order
// of each region's first pixel.
torch::Tensor connected_segments(const torch::Tensor& labels);
// Splits every segment that crosses the boundary of `mask` (bool/0-1 [H,W], same size
// as labels) so no segment holds pixels of both sides; relabels 0..K-1, connected.
torch::Tensor respect_mask(const torch::Tensor& labels, const torch::Tensor& mask);

}  // namespace loupe
