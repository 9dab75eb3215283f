// TaskChannel: a small mutex/condvar event queue between the scheduler and one HTTP thread.
#include "server/task.h"

namespace hearth::server {

void TaskChannel::push(Event e) {
    {
        std::lock_guard lk(mu_);
        events_.push_back(std::move(e));
    }
    cv_.notify_one();
}

bool TaskChannel::pop(Event& out, std::chrono::milliseconds timeout) {
    std::unique_lock lk(mu_);
    if (!cv_.wait_for(lk, timeout, [&] { return !events_.empty(); })) return false;
    out = std::move(events_.front());
    events_.pop_front();
    return true;
}

}  // namespace hearth::server
