#include <fcntl.h>
#include <gtest/gtest.h>
#include <pty.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>

#include "loupe/core/progress.h"

namespace loupe {
namespace {

TEST(Progress, FormatDuration) {
  EXPECT_EQ(format_duration(0), "0:00");
  EXPECT_EQ(format_duration(5), "0:05");
  EXPECT_EQ(format_duration(65), "1:05");
  EXPECT_EQ(format_duration(59.6), "1:00");  // rounded to the second
  EXPECT_EQ(format_duration(3599.4), "59:59");
  EXPECT_EQ(format_duration(2 * 3600 + 3 * 60 + 4), "2:03:04");
  EXPECT_EQ(format_duration(36000), "10:00:00");
  EXPECT_EQ(format_duration(-1), "?:??");
  EXPECT_EQ(format_duration(std::numeric_limits<double>::infinity()), "?:??");
  EXPECT_EQ(format_duration(std::nan("")), "?:??");
}

TEST(Progress, FormatRate) {
  EXPECT_EQ(format_rate(0.5), "0.50");
  EXPECT_EQ(format_rate(12.34), "12.3");
  EXPECT_EQ(format_rate(950), "950");
  EXPECT_EQ(format_rate(1234), "1.2k");
  EXPECT_EQ(format_rate(3.4e6), "3.4M");
}

TEST(Progress, LineShowsBarCountRateEtaAndPostfix) {
  // 4800 of 9600 in 4 s: 1200 img/s, half the bar, 4 s left.
  EXPECT_EQ(detail::progress_line("train", 4800, 9600, "img", 4.0, "loss 0.31", false),
            "train [############............] 4800/9600 1.2k img/s ETA 0:04 loss 0.31");
  EXPECT_EQ(detail::progress_line("eval", 10, 10, "batch", 2.0, "", true),
            "eval [########################] 10/10 5.00 batch/s in 0:02");
  EXPECT_EQ(detail::progress_line("eval", 0, 10, "batch", 0.0, "", false),
            "eval [........................] 0/10 0.00 batch/s");
  // Unknown total: no bar, no ETA.
  EXPECT_EQ(detail::progress_line("scan", 42, 0, "file", 2.0, "", false), "scan 42 21.0 file/s");
}

TEST(Progress, SilentWhenStdoutIsNotATerminal) {
  ::testing::internal::CaptureStdout();  // stdout becomes a file, so not a terminal
  EXPECT_FALSE(Progress::enabled());
  {
    Progress p("train", 100, "img");
    for (int i = 0; i < 100; ++i) p.advance(1, "loss 0.5");
    p.finish();
    Progress unfinished("eval", 3);  // the destructor finishes it
    unfinished.advance(2);
  }
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "");
}

// With stdout on a pseudo-terminal the bar is drawn with \r and ends with a newline.
TEST(Progress, DrawsOnATerminal) {
  int master = -1, slave = -1;
  if (openpty(&master, &slave, nullptr, nullptr, nullptr) != 0) GTEST_SKIP() << "no pseudo-terminal available";
  std::cout.flush();
  std::fflush(stdout);
  const int saved = dup(STDOUT_FILENO);
  ASSERT_GE(saved, 0);
  dup2(slave, STDOUT_FILENO);
  bool enabled = false;
  {
    Progress p("train", 10, "img");
    enabled = Progress::enabled();
    p.advance(5, "loss 0.5");  // the first advance always draws
    p.finish();
  }
  std::cout.flush();
  dup2(saved, STDOUT_FILENO);
  close(saved);
  close(slave);
  fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(master, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  close(master);
  EXPECT_TRUE(enabled);
  // Two draws (the advance and finish), each returning to the line start.
  EXPECT_EQ(out.rfind("\rtrain [############............] 5/10 ", 0), 0u) << out;
  EXPECT_NE(out.find("\rtrain [############............] 5/10 ", 1), std::string::npos) << out;
  EXPECT_NE(out.find(" ETA "), std::string::npos) << out;
  // The last draw shows the elapsed time instead of the ETA, and ends the line.
  const std::string tail = " in 0:00 loss 0.5\x1b[K\r\n";
  ASSERT_GE(out.size(), tail.size());
  EXPECT_EQ(out.substr(out.size() - tail.size()), tail) << out;
}

}  // namespace
}  // namespace loupe
