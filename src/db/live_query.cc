// live_query.cc — see live_query.h.
#include "db/live_query.h"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include "db/json.h"
#include "db/store.h"

namespace settee::db {

namespace {

// How many changes one scan step reads: bounds the worker's memory when a large import lands while
// live queries are registered, without a scan per document.
constexpr uint64_t kChangesChunk = 1000;

using Clock = std::chrono::steady_clock;

// One registered query and what the worker knows of its last result.
struct Entry {
  explicit Entry(FindQuery q) : query(std::move(q)) {}
  uint64_t id = 0;
  // The query as run: `skip` folded into the limit (the skipped rows' ids are part of what a change
  // can disturb) and `_id` added to `fields` (the ids are how a change is found to touch the result).
  FindQuery query;
  uint64_t skip = 0;
  bool stripId = false;  // `_id` was added to fields: remove it from what is delivered
  std::function<void(const LiveResult&)> onResult;

  // Written by add() before the entry is shared, then by the worker only.
  uint64_t seenSeq = 0;   // every change up to here is reflected in `last` or found not to touch it
  uint64_t purgeSeq = 0;  // a purge removes documents without a change row: re-run when it moves
  std::unordered_set<std::string> ids;  // every row of the last run, skipped ones included
  LiveResult last;
  bool delivered = false;  // `last` has been delivered at least once
};

// A document without its `_id` member (a projection that did not ask for it).
std::string withoutId(simdjson::dom::object doc) {
  JsonBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  for (auto field : doc) {
    if (field.key == "_id") continue;
    writeKey(w, field.key);
    writeElement(w, field.value);
  }
  w.EndObject();
  return std::string(bufferView(buf));
}

// Runs the entry's query into `out` (documents as delivered) and `ids`; out.updateSeq is read before
// the run, so the result reflects at least every write up to it.
Status runEntry(Store& store, const Entry& e, LiveResult& out, std::unordered_set<std::string>& ids) {
  out.docs.clear();
  ids.clear();
  out.updateSeq = store.updateSeq();
  simdjson::dom::parser parser;
  uint64_t row = 0;
  Status failed;
  Result<FindSummary> summary = runFind(store, e.query, [&](std::string_view doc) {
    simdjson::dom::object obj;
    std::string_view id;
    if (parser.parse(doc.data(), doc.size()).get_object().get(obj) || obj["_id"].get_string().get(id)) {
      failed = Status(ErrorCode::Internal, "a live query's row is not a document with an _id");
      return false;
    }
    ids.emplace(id);
    if (row++ < e.skip) return true;
    if (e.stripId) {
      out.docs.push_back(withoutId(obj));
    } else {
      out.docs.emplace_back(doc);
    }
    return true;
  });
  if (!summary) return summary.status();
  return failed;
}

}  // namespace

struct LiveQueries::Core {
  Store* store = nullptr;
  std::mutex mu;
  std::condition_variable wake;  // the worker waits here for work, a closed database or no queries
  std::condition_variable idle;  // a handle being destroyed waits here for its running callback
  std::map<uint64_t, std::shared_ptr<Entry>> entries;
  uint64_t nextId = 1;
  bool closed = false;
  bool dirty = false;    // a write (or a registration) since the worker's last pass began
  bool running = false;  // the worker is running; false once it no longer touches mu or the store
  std::thread worker;
  std::thread::id workerId;
  uint64_t delivering = 0;  // the entry whose callback runs now; 0 when none
  uint64_t listener = 0;
  Clock::time_point lastPass;
};

namespace {

using Core = LiveQueries::Core;

// Calls the entry's callback unless its handle is gone; a handle destroyed meanwhile waits for it.
void deliver(Core& core, Entry& e) {
  {
    std::lock_guard lock(core.mu);
    if (core.closed || !core.entries.count(e.id)) return;
    core.delivering = e.id;
  }
  e.onResult(e.last);
  std::lock_guard lock(core.mu);
  core.delivering = 0;
  core.idle.notify_all();
}

// Whether `e`, whose last result did not include document `id`, now has it matching: `doc` is loaded
// (and parsed) once per change whatever the number of queries that ask.
class ChangedDoc {
 public:
  ChangedDoc(Store& store, const Change& change) : store_(store), change_(change) {}
  bool matches(const Selector& selector) {
    if (change_.deleted) return false;
    if (!loaded_) {
      loaded_ = true;
      Result<std::string> json = store_.get(change_.id, ReadOptions{});
      // Gone since the scan (deleted, purged): the change that removed it comes in a later pass.
      if (json && !parser_.parse(*json).get(doc_)) valid_ = true;
    }
    return valid_ && selector.matches(doc_);
  }

 private:
  Store& store_;
  const Change& change_;
  simdjson::dom::parser parser_;
  simdjson::dom::element doc_;
  bool loaded_ = false;
  bool valid_ = false;
};

// One pass over every registered query: finds which ones the changes since they last looked may have
// touched, re-runs those and delivers the results that differ.
void runPass(Core& core, const std::vector<std::shared_ptr<Entry>>& entries) {
  Store& store = *core.store;
  const uint64_t seq = store.updateSeq();
  const uint64_t purge = store.purgeSeq();
  std::vector<char> rerun(entries.size(), 0);
  uint64_t since = UINT64_MAX;
  size_t undecided = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i]->purgeSeq != purge) {
      rerun[i] = 1;
    } else if (entries[i]->seenSeq < seq) {
      since = std::min(since, entries[i]->seenSeq);
      ++undecided;
    }
  }
  bool scanned = true;
  std::vector<Change> chunk;
  while (undecided > 0 && since != UINT64_MAX) {
    chunk.clear();
    ChangesOptions options;
    options.since = since;
    options.limit = kChangesChunk;
    Result<uint64_t> last = store.changes(options, [&](const Change& c) {
      chunk.push_back(c);
      return true;
    });
    if (!last) {
      scanned = false;  // a storage error: look again at the next pass
      break;
    }
    for (const Change& c : chunk) {
      ChangedDoc doc(store, c);
      const bool design = c.id.starts_with("_design/");
      for (size_t i = 0; i < entries.size() && undecided > 0; ++i) {
        Entry& e = *entries[i];
        if (rerun[i] || c.seq <= e.seenSeq) continue;
        if (design || e.ids.count(c.id) || doc.matches(e.query.selector)) {
          rerun[i] = 1;
          --undecided;
        }
      }
    }
    if (chunk.size() < kChangesChunk) break;
    since = *last;
  }

  LiveResult result;
  std::unordered_set<std::string> ids;
  for (size_t i = 0; i < entries.size(); ++i) {
    Entry& e = *entries[i];
    if (!rerun[i]) {
      if (scanned) e.seenSeq = std::max(e.seenSeq, seq);
      if (!e.delivered) {
        e.delivered = true;
        deliver(core, e);
      }
      continue;
    }
    // A failed run (a storage error, an index use_index names deleted) keeps the last result; the
    // query is looked at again after the next write.
    if (!runEntry(store, e, result, ids)) continue;
    e.seenSeq = result.updateSeq;
    e.purgeSeq = purge;
    e.ids.swap(ids);
    if (e.delivered && result.docs == e.last.docs) continue;
    std::swap(e.last, result);
    e.delivered = true;
    deliver(core, e);
  }
}

void workerMain(std::shared_ptr<Core> core) {
  std::unique_lock lock(core->mu);
  for (;;) {
    auto stopping = [&] { return core->closed || core->entries.empty(); };
    core->wake.wait(lock, [&] { return stopping() || core->dirty; });
    if (stopping()) break;
    // Writes closer together than kMinPassInterval wait for one pass (LiveQueries::kMinPassInterval).
    if (core->wake.wait_until(lock, core->lastPass + LiveQueries::kMinPassInterval, stopping)) break;
    core->dirty = false;
    core->lastPass = Clock::now();
    std::vector<std::shared_ptr<Entry>> entries;
    entries.reserve(core->entries.size());
    for (auto& [id, e] : core->entries) entries.push_back(e);
    lock.unlock();
    runPass(*core, entries);
    lock.lock();
  }
  // After running is false this thread touches neither the store nor mu: add() may join it.
  core->store->removeChangeListener(core->listener);
  core->running = false;
}

// Unregisters entry `id`; unless called from the worker, waits for a callback of it that runs.
void unregister(Core& core, uint64_t id) {
  std::unique_lock lock(core.mu);
  core.entries.erase(id);
  core.wake.notify_all();
  if (std::this_thread::get_id() != core.workerId) {
    core.idle.wait(lock, [&] { return core.delivering != id; });
  }
}

class Handle final : public LiveQuery {
 public:
  Handle(std::shared_ptr<Core> core, uint64_t id) : core_(std::move(core)), id_(id) {}
  ~Handle() override { unregister(*core_, id_); }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

 private:
  std::shared_ptr<Core> core_;
  uint64_t id_;
};

}  // namespace

LiveQueries::LiveQueries(Store& store) : core_(std::make_shared<Core>()) { core_->store = &store; }

LiveQueries::~LiveQueries() {
  std::thread worker;
  std::map<uint64_t, std::shared_ptr<Entry>> entries;
  {
    std::lock_guard lock(core_->mu);
    core_->closed = true;
    entries.swap(core_->entries);  // the callbacks' captures go now, outside the lock
    worker = std::move(core_->worker);
    core_->wake.notify_all();
  }
  if (worker.joinable()) worker.join();
}

Result<std::unique_ptr<LiveQuery>> LiveQueries::add(const FindQuery& query,
                                                    std::function<void(const LiveResult&)> onResult) {
  if (!onResult) return badRequest("a live query needs a callback");
  auto e = std::make_shared<Entry>(query);
  e->skip = query.options.skip;
  e->query.options.skip = 0;
  e->query.options.limit =
      query.options.limit > UINT64_MAX - e->skip ? UINT64_MAX : query.options.limit + e->skip;
  auto& fields = e->query.options.fields;
  if (!fields.empty() && std::find(fields.begin(), fields.end(), "_id") == fields.end()) {
    fields.push_back("_id");
    e->stripId = true;
  }
  e->onResult = std::move(onResult);

  Store& store = *core_->store;
  e->purgeSeq = store.purgeSeq();
  if (Status st = runEntry(store, *e, e->last, e->ids); !st) return st;
  e->seenSeq = e->last.updateSeq;

  std::lock_guard lock(core_->mu);
  if (core_->closed) return Status(ErrorCode::Internal, "the database is closing");
  e->id = core_->nextId++;
  core_->entries.emplace(e->id, e);
  core_->dirty = true;
  if (core_->running) {
    core_->wake.notify_all();
  } else {
    // A worker that ended (its last query went) has left running false and touches nothing more.
    if (core_->worker.joinable()) core_->worker.join();
    std::weak_ptr<Core> weak = core_;
    core_->listener = store.addChangeListener([weak](uint64_t) {
      if (auto core = weak.lock()) {
        std::lock_guard lock(core->mu);
        core->dirty = true;
        core->wake.notify_all();
      }
    });
    core_->running = true;
    core_->worker = std::thread(workerMain, core_);
    core_->workerId = core_->worker.get_id();
  }
  return std::unique_ptr<LiveQuery>(new Handle(core_, e->id));
}

}  // namespace settee::db
