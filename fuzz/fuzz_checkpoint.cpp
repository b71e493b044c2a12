// loupe checkpoints through their public entry points (the format is being rewritten;
// this harness only needs read_checkpoint_info and load_model to keep their names).
#include "fuzz_input.h"
#include "loupe/models/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace loupe;
  const auto path = fuzz::input_file(data, size, ".ckpt");
  fuzz::refuse_only_with_loupe_errors([&] {
    read_checkpoint_info(path);
    load_model(path);
  });
  return 0;
}
