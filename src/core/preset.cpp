#include "loupe/core/preset.h"

#include "loupe/core/error.h"

namespace loupe {

Preset parse_preset(const std::string& name, const std::string& what) {
  if (name == "quick") return Preset::kQuick;
  if (name == "paper") return Preset::kPaper;
  fail(what, " '", name, "' is unknown; expected quick or paper");
}

std::string preset_name(Preset preset) { return preset == Preset::kPaper ? "paper" : "quick"; }

}  // namespace loupe
