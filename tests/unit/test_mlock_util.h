// Helper shared by the --mlock tests (test_gguf_reader.cpp, test_model_mlock.cpp): dropping the
// capability that lets root lock memory past RLIMIT_MEMLOCK, so a child process can see a refusal.
#pragma once

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace hearth::testutil {

// Drops CAP_IPC_LOCK from the effective set (root would otherwise ignore RLIMIT_MEMLOCK). Call it
// in a forked child: the parent keeps its capabilities.
inline bool drop_ipc_lock_capability() {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    if (syscall(SYS_capget, &header, data) != 0) return false;
    data[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
    return syscall(SYS_capset, &header, data) == 0;
}

}  // namespace hearth::testutil
