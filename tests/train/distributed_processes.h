// Helpers for the data-parallel tests: a free loopback port, and ranks as real processes
// (this test binary started again, running `loupe ARGS...` in DistributedChild.DISABLED_Rank
// with the rendezvous in its environment), waited for with a deadline.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "loupe/core/error.h"
#include "loupe/core/fs.h"

extern char** environ;

namespace loupe::test {

// A TCP port on 127.0.0.1 that nothing listens on right now (the kernel's choice).
inline int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  LOUPE_CHECK(fd >= 0, "test: no socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  LOUPE_CHECK(ok, "test: cannot bind a loopback port");
  return ntohs(addr.sin_port);
}

// The variables every rank of a test group gets.
inline std::map<std::string, std::string> rank_environment(int rank, int world_size, int port) {
  return {{"MASTER_ADDR", "127.0.0.1"},         {"MASTER_PORT", std::to_string(port)},
          {"RANK", std::to_string(rank)},       {"WORLD_SIZE", std::to_string(world_size)},
          {"LOCAL_RANK", std::to_string(rank)}, {"OMP_NUM_THREADS", "1"}};
}

constexpr char kChildArgsVariable[] = "LOUPE_TEST_LOUPE_ARGS";
constexpr char kChildArgsSeparator = '\x1f';

// Starts `loupe args...` as a process with `env` added to this one's environment (the
// rendezvous variables of this one removed first); its stdout and stderr go to
// `log` + ".out" / ".err".
inline pid_t spawn_loupe(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
                         const fs::path& log) {
  std::string joined;
  for (const auto& a : args) joined += (joined.empty() ? "" : std::string(1, kChildArgsSeparator)) + a;
  std::vector<std::string> entries;
  for (char** e = environ; *e; ++e) {
    const std::string entry = *e, name = entry.substr(0, entry.find('='));
    if (env.count(name) == 0 && name != kChildArgsVariable && name != "SLURM_PROCID" && name != "SLURM_NTASKS" &&
        name != "SLURM_LOCALID")
      entries.push_back(entry);
  }
  for (const auto& [name, value] : env) entries.push_back(name + "=" + value);
  entries.push_back(std::string(kChildArgsVariable) + "=" + joined);
  std::vector<char*> envp;
  for (auto& e : entries) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_text = {"/proc/self/exe", "--gtest_also_run_disabled_tests",
                                        "--gtest_filter=DistributedChild.DISABLED_Rank"};
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const std::string out = log.string() + ".out", err = log.string() + ".err";
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  LOUPE_CHECK(rc == 0, "test: posix_spawn failed (", rc, ")");
  return pid;
}

// The exit status of `pid`; -1 (and the process killed) if it has not exited within
// `seconds`, -2 if a signal ended it.
inline int wait_exit(pid_t pid, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (true) {
    int status = 0;
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -2;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace loupe::test
