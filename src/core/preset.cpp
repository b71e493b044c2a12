#include "loupe/core/preset.h"

#include "loupe/core/error.h"

namespace loupe {

std::vector<std::string> preset_names() { return {"quick", "paper"}; }

Preset parse_preset(const std::string& name, const std::string& what) {
  const auto names = preset_names();
  for (size_t i = 0; i < names.size(); ++i)
    if (name == names[i]) return static_cast<Preset>(i);
  fail(what, " '", name, "' is unknown; expected ", join_names(names));
}

std::string preset_name(Preset preset) { return preset_names().at(static_cast<size_t>(preset)); }

}  // namespace loupe
