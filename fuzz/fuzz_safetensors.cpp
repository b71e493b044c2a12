// parse_safetensors on arbitrary bytes; what it accepts must survive serialise/parse.
#include <torch/torch.h>

#include "fuzz_input.h"
#include "loupe/models/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace loupe;
  fuzz::refuse_only_with_loupe_errors([&] {
    const auto st = parse_safetensors(fuzz::input_bytes(data, size), "fuzz.safetensors");
    const std::string serialized = serialize_safetensors(st);
    fuzz::require(serialize_safetensors(parse_safetensors(serialized, "re-serialized.safetensors")) == serialized,
                  "safetensors serialize/parse round trip");
  });
  return 0;
}
