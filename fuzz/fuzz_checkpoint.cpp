// loupe checkpoints through their public entry points (the format is being rewritten;
// this harness only needs read_checkpoint_info and load_model to keep their names).
#include "fuzz_input.h"
#include "loupe/models/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace loupe;
  const fuzz::InputFile input(data, size, ".ckpt");
  fuzz::refuse_only_with_loupe_errors([&] {
    read_checkpoint_info(input.path());
    load_model(input.path());
  });
  return 0;
}
