#pragma once
// How many CPUs this process may use: the default number of event loops and the size of the
// blocking pool follow it (common/runtime/service.cpp).
#include <filesystem>

namespace count::runtime {

// The CPUs this process may run on (its affinity mask), capped by its cgroup's CPU quota
// rounded up. In a pod with `limits.cpu: 500m` on a 16-core node that is 1, not 16: a loop
// per core of the node would only take turns being throttled. Nothing in Boost or the C++
// library reads a cgroup quota (std::thread::hardware_concurrency counts the node's cores).
int UsableCpus(const std::filesystem::path& cgroup_root = "/sys/fs/cgroup");

// The quota alone: the CPUs the cgroup under `cgroup_root` may use, rounded up, or 0 when it
// sets no quota. cgroup v2 (`cpu.max`: "max 100000" or "50000 100000") and v1
// (`cpu/cpu.cfs_quota_us`, -1 for none, over `cpu/cpu.cfs_period_us`).
int CgroupCpuLimit(const std::filesystem::path& cgroup_root);

}  // namespace count::runtime
