// Shapes3DFile (DeepMind's 3dshapes.h5 through the HDF5 C library) on arbitrary bytes,
// written to tmpfs since HDF5 opens paths. An accepted file serves its first rows, and
// no HDF5 object stays open afterwards.
#include <hdf5.h>
#include <torch/torch.h>

#include <algorithm>

#include "fuzz_input.h"
#include "loupe/data/shapes3d_h5.h"

// HDF5 keeps freed objects on free lists; with them off, every input frees what it
// allocates, and libFuzzer's leak check (run whenever mallocs and frees differ) stays rare.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  H5set_free_list_limits(0, 0, 0, 0, 0, 0);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace loupe;
  const fuzz::InputFile input(data, size, ".h5");
  fuzz::refuse_only_with_loupe_errors([&] {
    const Shapes3DFile file(input.path());
    const auto rows = torch::arange(std::min<int64_t>(file.size(), 4));
    const auto factors = file.factors(rows);
    fuzz::require(torch::equal(file.factors(file.index_of(factors)), factors), "index_of finds each row's factors");
    fuzz::require(file.get(rows).images.size(0) == rows.size(0), "get returns one image per row");
  });
  // Every id the loader opened is closed again, whether it threw or not.
  fuzz::require(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) == 0, "no HDF5 object left open");
  return 0;
}
