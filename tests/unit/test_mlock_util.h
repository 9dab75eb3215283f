// Helpers shared by the --mlock tests (test_gguf_reader.cpp, test_model_mlock.cpp): a child
// process to lower RLIMIT_MEMLOCK in, and dropping the capability that lets root lock memory past
// that limit, so the child sees a refusal.
#pragma once

#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>

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

// Runs body in a forked child and returns its exit code: body's return value, 2 when it threw,
// -1 when the child did not exit normally (or could not be forked).
inline int exit_code_in_child(const std::function<int()>& body) {
    const pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int code = 2;
        try {
            code = body();
        } catch (...) {
        }
        _exit(code);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

}  // namespace hearth::testutil
