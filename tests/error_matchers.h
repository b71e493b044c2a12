// EXPECT_LOUPE_ERROR(statement, "part"): the statement throws loupe::Error and its
// message contains "part" (the input it names).
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "loupe/core/error.h"

#define EXPECT_LOUPE_ERROR(statement, part)                                                               \
  do {                                                                                                    \
    std::string loupe_error_message_ = "(no loupe::Error thrown)";                                        \
    try {                                                                                                 \
      statement;                                                                                          \
    } catch (const ::loupe::Error& e) {                                                                   \
      loupe_error_message_ = e.what();                                                                    \
    }                                                                                                     \
    EXPECT_NE(loupe_error_message_.find(part), std::string::npos) << "message: " << loupe_error_message_; \
  } while (0)
