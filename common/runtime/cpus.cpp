#include "runtime/cpus.hpp"

#include <sched.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <thread>

namespace count::runtime {
namespace {

// ceil(quota / period), or 0 when either is missing, unlimited or malformed.
int Ceil(long long quota, long long period) {
  if (quota <= 0 || period <= 0) return 0;
  return static_cast<int>((quota + period - 1) / period);
}

}  // namespace

int CgroupCpuLimit(const std::filesystem::path& cgroup_root) {
  if (std::ifstream v2(cgroup_root / "cpu.max"); v2) {
    std::string quota;
    long long period = 0;
    if (!(v2 >> quota >> period) || quota == "max") return 0;
    try {
      return Ceil(std::stoll(quota), period);
    } catch (const std::exception&) {
      return 0;
    }
  }
  for (const char* dir : {"cpu", "cpu,cpuacct"}) {
    std::ifstream quota_file(cgroup_root / dir / "cpu.cfs_quota_us");
    std::ifstream period_file(cgroup_root / dir / "cpu.cfs_period_us");
    long long quota = 0, period = 0;
    if (quota_file >> quota && period_file >> period) return Ceil(quota, period);
  }
  return 0;
}

int UsableCpus(const std::filesystem::path& cgroup_root) {
  cpu_set_t set;
  int cpus = sched_getaffinity(0, sizeof set, &set) == 0
                 ? CPU_COUNT(&set)
                 : static_cast<int>(std::thread::hardware_concurrency());
  if (const int limit = CgroupCpuLimit(cgroup_root); limit > 0) cpus = std::min(cpus, limit);
  return std::max(1, cpus);
}

}  // namespace count::runtime
