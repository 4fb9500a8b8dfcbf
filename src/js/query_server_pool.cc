// js/query_server_pool.cc — taking and returning processes, one protocol exchange with its deadline,
// and the retry of a call that found its process dead. The commands and answers of each public call
// are in query_server_calls.cc.
#include "js/query_server_pool.h"

#include <cstdio>
#include <cstdlib>
#include <set>

#include "js/child_process.h"
#include "js/pool_internal.h"

namespace settee::js {

std::vector<std::string> queryServerCommand(const std::string& selfBinary) {
  // CouchDB reads the same variable; its value is a command line (e.g. "couchjs main.js"), which a
  // shell splits. `exec` keeps the shell's pid for the query server, so a kill reaches it.
  if (const char* cmd = std::getenv("COUCHDB_QUERY_SERVER_JAVASCRIPT"); cmd && *cmd)
    return {"/bin/sh", "-c", std::string("exec ") + cmd};
  return {selfBinary, "js"};
}

namespace detail {

const char* internErrorName(std::string_view name) {
  // Status keeps a pointer to its name, so names must live forever. Functions choose their own error
  // names (["error", "my_error", ...]); past a few hundred distinct ones, they share one.
  static std::mutex mutex;
  static std::set<std::string, std::less<>> names;
  std::lock_guard lock(mutex);
  if (auto it = names.find(name); it != names.end()) return it->c_str();
  if (names.size() >= 256) return "query_server_error";
  return names.emplace(name).first->c_str();
}

Status processError(std::string reason) {
  return Status(ErrorCode::Internal, std::move(reason), "os_process_error");
}

}  // namespace detail

using detail::processError;

QueryServerPool::QueryServerPool(PoolOptions options) : options_(std::move(options)) {
  if (!options_.log) {
    options_.log = [](std::string_view message) {
      std::fprintf(stderr, "[info] query server log: %.*s\n", static_cast<int>(message.size()),
                   message.data());
    };
  }
  if (options_.maxProcesses == 0) options_.maxProcesses = 1;
}

QueryServerPool::~QueryServerPool() = default;  // idle_ kills and reaps its processes

Result<std::unique_ptr<QueryServerPool::Worker>> QueryServerPool::acquire() {
  std::unique_lock lock(mutex_);
  const auto deadline = Clock::now() + options_.timeout;
  while (idle_.empty() && live_ >= options_.maxProcesses) {
    if (freed_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        live_ >= options_.maxProcesses)
      return processError("no JavaScript process became free within the os_process_timeout");
  }
  if (!idle_.empty()) {
    std::unique_ptr<Worker> w = std::move(idle_.back());
    idle_.pop_back();
    busy_.push_back(w.get());
    return w;
  }
  ++live_;
  lock.unlock();
  auto proc = ChildProcess::spawn(options_.command);
  lock.lock();
  if (!proc) {
    --live_;
    freed_.notify_one();
    return proc.status();
  }
  ++started_;
  auto w = std::make_unique<Worker>();
  w->proc = std::move(*proc);
  busy_.push_back(w.get());
  return w;
}

void QueryServerPool::release(std::unique_ptr<Worker> worker, bool keep) {
  std::unique_ptr<Worker> doomed;
  {
    std::lock_guard lock(mutex_);
    std::erase(busy_, worker.get());
    if (keep) {
      idle_.push_back(std::move(worker));
    } else {
      --live_;
      doomed = std::move(worker);
    }
  }
  freed_.notify_one();
  // doomed's destructor kills and reaps the process, outside the lock.
}

Status QueryServerPool::run(const std::function<Status(Call&)>& op) {
  // Each failed attempt discards one dead process, so the loop ends.
  for (size_t attempt = 0;; ++attempt) {
    auto w = acquire();
    if (!w) return w.status();
    Call call(*this, **w);
    Status s;
    if (!call.worker.configured) {
      simdjson::dom::element answer;
      s = call.ask(detail::resetCommand(options_.reduceLimit), answer);
      call.worker.configured = s.isOk();
    }
    if (s) s = op(call);
    const bool keep = !call.worker.broken && !call.worker.retire;
    release(std::move(*w), keep);
    if (s || !call.deadOnArrival || attempt >= options_.maxProcesses) return s;
  }
}

std::vector<pid_t> QueryServerPool::pids() const {
  std::lock_guard lock(mutex_);
  std::vector<pid_t> out;
  for (const auto& w : idle_) out.push_back(w->proc->pid());
  for (const Worker* w : busy_) out.push_back(w->proc->pid());
  return out;
}

uint64_t QueryServerPool::processesStarted() const {
  std::lock_guard lock(mutex_);
  return started_;
}

Status QueryServerPool::Call::ask(std::string_view command, simdjson::dom::element& answer) {
  Worker& w = worker;
  const auto deadline = Clock::now() + pool.options_.timeout;
  auto lost = [&](const char* doing) {
    w.broken = true;
    // A process that had answered before this call and is gone before this call's first answer died
    // between calls (its previous command ended it, or something killed it): not this call's fault.
    if (!exchanged && w.answered) deadOnArrival = true;
    return processError(std::string("the JavaScript process ") + w.proc->exitDescription() + " " + doing);
  };
  switch (w.proc->send(command, deadline)) {
    case ChildProcess::Io::Ok:
      break;
    case ChildProcess::Io::Timeout:
      w.broken = true;
      return processError("OS process timed out.");
    default:
      return lost("before it read the command");
  }
  for (;;) {
    switch (w.proc->receiveLine(w.line, deadline, pool.options_.maxAnswerBytes)) {
      case ChildProcess::Io::Ok:
        break;
      case ChildProcess::Io::Timeout:
        w.broken = true;
        return processError("OS process timed out.");
      case ChildProcess::Io::TooLong:
        w.broken = true;
        return processError("the JavaScript process's answer is longer than " +
                            std::to_string(pool.options_.maxAnswerBytes) + " bytes");
      case ChildProcess::Io::Closed:
        return lost("before it answered");
    }
    auto parsed = w.parser.parse(w.line);
    if (parsed.error()) {
      w.broken = true;
      return processError("the JavaScript process answered with invalid JSON: " + w.line.substr(0, 200));
    }
    simdjson::dom::element e = parsed.value_unsafe();
    simdjson::dom::array a;
    std::string_view tag;
    if (!e.get_array().get(a) && a.size() >= 2 && !a.at(0).get_string().get(tag)) {
      if (tag == "log") {
        std::string_view message;
        if (a.at(1).get_string().get(message)) {
          std::string text = simdjson::minify(a.at(1).value_unsafe());
          pool.options_.log(text);
        } else {
          pool.options_.log(message);
        }
        // A function that logs without end must still meet the deadline.
        if (Clock::now() >= deadline) {
          w.broken = true;
          return processError("OS process timed out.");
        }
        continue;
      }
      if (tag == "error") {
        exchanged = w.answered = true;
        std::string_view name = "unnamed_error", reason;
        std::string reasonText;
        if (a.at(1).get_string().get(name)) name = "unnamed_error";
        if (a.size() >= 3) {
          if (a.at(2).get_string().get(reason))
            reasonText = simdjson::minify(a.at(2).value_unsafe());
          else
            reasonText = reason;
        }
        // Our own query server exits after these; do not hand the process to another call.
        if (name == "os_process_error") w.broken = true;
        const ErrorCode code = name == "compilation_error" ? ErrorCode::BadRequest : ErrorCode::Internal;
        return Status(code, std::move(reasonText), detail::internErrorName(name));
      }
    }
    exchanged = w.answered = true;
    answer = e;
    return Status::ok();
  }
}

}  // namespace settee::js
