// Enums parsed once from text: an enum's names listed in order, and the index of a name
// among them, or a loupe::Error that names the input and lists the choices.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "loupe/core/error.h"

namespace loupe {

// The index of `text` among `names`; other text is a loupe::Error
// "<what> '<text>': expected one of a, b, c".
inline size_t choice_index(const std::string& text, const std::vector<std::string>& names, const std::string& what) {
  for (size_t i = 0; i < names.size(); ++i)
    if (text == names[i]) return i;
  fail(what, " '", text, "': expected one of ", join_names(names));
}

}  // namespace loupe
