#include "loupe/core/preset.h"

#include "loupe/core/choices.h"

namespace loupe {

std::vector<std::string> preset_names() { return {"quick", "paper"}; }

Preset parse_preset(const std::string& name, const std::string& what) {
  return static_cast<Preset>(choice_index(name, preset_names(), what));
}

std::string preset_name(Preset preset) { return preset_names().at(static_cast<size_t>(preset)); }

}  // namespace loupe
