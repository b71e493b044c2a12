// decode_idx (plain or gzip IDX, the MNIST format) on arbitrary bytes.
#include <torch/torch.h>

#include "fuzz_input.h"
#include "loupe/data/mnist.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace loupe;
  fuzz::refuse_only_with_loupe_errors([&] {
    const auto t = decode_idx(fuzz::input_bytes(data, size), "fuzz.idx");
    fuzz::require(t.scalar_type() == torch::kUInt8 && t.dim() >= 1, "IDX decodes to uint8 with >= 1 dimension");
  });
  return 0;
}
