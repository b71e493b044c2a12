// The two sizes every study and trainer comes in: kQuick (minutes on a 2-core CPU) and
// kPaper (the reference settings, meant for a GPU). Parsed once, where the text enters.
#pragma once

#include <string>
#include <vector>

namespace loupe {

enum class Preset { kQuick, kPaper };

// "quick" / "paper"; other text is a loupe::Error naming `what` (e.g. "--preset") and it.
Preset parse_preset(const std::string& name, const std::string& what = "preset");
std::string preset_name(Preset preset);
std::vector<std::string> preset_names();  // in enum order, for the CLI's choices

}  // namespace loupe
