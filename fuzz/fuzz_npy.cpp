// decode_npy on arbitrary bytes; what it accepts must survive encode/decode unchanged.
#include <torch/torch.h>

#include "fuzz_input.h"
#include "loupe/core/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace loupe;
  fuzz::refuse_only_with_loupe_errors([&] {
    const auto tensor = decode_npy(fuzz::input_bytes(data, size), "fuzz.npy");
    const std::string encoded = encode_npy(tensor);
    fuzz::require(encode_npy(decode_npy(encoded, "re-encoded.npy")) == encoded, "npy encode/decode round trip");
  });
  return 0;
}
