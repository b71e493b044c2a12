// Where scikit-image's sample photographs live (astronaut, chelsea, brick, grass,
// gravel, ...): the method-comparison study's photos and the texture categories of
// the built-in anomaly data. scripts/fetch_photos.sh puts them in data/skimage.
#pragma once

#include "loupe/core/fs.h"

namespace loupe {

// The folder holding scikit-image's photos: $LOUPE_PHOTOS, python3-skimage's data folder,
// or data/skimage below the current folder or the executable's parent; empty if none.
fs::path find_skimage_photos();

}  // namespace loupe
