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

// One row of a query's last run: its document's id and the document as delivered.
struct Row {
  std::string id;
  std::string doc;
};

// One registered query and what the worker knows of its last result.
struct Entry {
  explicit Entry(FindQuery q) : query(std::move(q)) {}
  uint64_t id = 0;
  // The query as run: `skip` folded into the limit (the skipped rows' ids are part of what a change
  // can disturb) and `_id` added to `fields` (the ids are how a change is found to touch the result).
  FindQuery query;
  uint64_t skip = 0;
  bool stripId = false;  // `_id` was added to fields: remove it from what is delivered
  // Whole documents in id order, nothing but the selector to apply: when a full scan answered, a
  // changed document can be put into (or taken out of) the rows without running the query again.
  bool patchable = false;
  std::function<void(const LiveResult&)> onResult;

  // Written by add() before the entry is shared, then by the worker only.
  uint64_t seenSeq = 0;   // every change up to here is reflected in `rows` or found not to touch them
  uint64_t purgeSeq = 0;  // a purge removes documents without a change row: re-run when it moves
  std::vector<Row> rows;  // every row of the last run (or patch), skipped ones first
  std::unordered_set<std::string> ids;  // the ids of `rows`
  // `rows` hold every matching document, in id order (patchable, a full scan, the limit not reached).
  bool complete = false;
  LiveResult last;         // the last result delivered (or to deliver first)
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

// Runs the entry's query into its rows; returns the update_seq read before the run, so the rows
// reflect at least every write up to it.
Result<uint64_t> runEntry(Store& store, Entry& e) {
  std::vector<Row> rows;
  const uint64_t seq = store.updateSeq();
  simdjson::dom::parser parser;
  Status failed;
  Result<FindSummary> summary = runFind(store, e.query, [&](std::string_view doc) {
    simdjson::dom::object obj;
    std::string_view id;
    if (parser.parse(doc.data(), doc.size()).get_object().get(obj) || obj["_id"].get_string().get(id)) {
      failed = Status(ErrorCode::Internal, "a live query's row is not a document with an _id");
      return false;
    }
    rows.push_back({std::string(id), e.stripId ? withoutId(obj) : std::string(doc)});
    return true;
  });
  if (!summary) return summary.status();
  if (!failed) return failed;
  e.complete = e.patchable && summary->index == "_all_docs" && rows.size() < e.query.options.limit;
  e.rows = std::move(rows);
  e.ids.clear();
  for (const Row& r : e.rows) e.ids.insert(r.id);
  return seq;
}

// Applies one changed document to complete rows: `doc` is its JSON when it matches the selector now,
// null when it does not. Rows that reach the limit keep the first `limit` and stop being complete.
// Returns whether the rows changed.
bool patchRows(Entry& e, const std::string& id, const std::string* doc) {
  auto at = std::lower_bound(e.rows.begin(), e.rows.end(), id,
                             [](const Row& r, const std::string& key) { return r.id < key; });
  const bool present = at != e.rows.end() && at->id == id;
  if (!doc) {
    if (!present) return false;
    e.rows.erase(at);
    e.ids.erase(id);
    return true;
  }
  if (present) {
    if (at->doc == *doc) return false;
    at->doc = *doc;
    return true;
  }
  e.rows.insert(at, Row{id, *doc});
  e.ids.insert(id);
  if (e.rows.size() > e.query.options.limit) {
    e.ids.erase(e.rows.back().id);
    e.rows.pop_back();
    e.complete = false;
  }
  return true;
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

// A changed document, loaded (and parsed) at most once per pass whatever the number of queries that
// ask about it.
class ChangedDoc {
 public:
  ChangedDoc(Store& store, const Change& change) : store_(store), change_(change) {}
  bool matches(const Selector& selector) {
    if (change_.deleted) return false;
    if (!loaded_) {
      loaded_ = true;
      Result<std::string> json = store_.get(change_.id, ReadOptions{});
      // Gone since the scan (deleted, purged): the change that removed it comes in a later pass.
      if (json) {
        json_ = std::move(*json);
        valid_ = !parser_.parse(json_).get(doc_);
      }
    }
    return valid_ && selector.matches(doc_);
  }
  // The document as read; only after matches() returned true.
  const std::string& json() const { return json_; }

 private:
  Store& store_;
  const Change& change_;
  simdjson::dom::parser parser_;
  simdjson::dom::element doc_;
  std::string json_;
  bool loaded_ = false;
  bool valid_ = false;
};

// Delivers the entry's rows (past the skipped ones) when they differ from the last result delivered.
void publish(Core& core, Entry& e, uint64_t seq) {
  const size_t from = std::min<size_t>(e.skip, e.rows.size());
  const size_t n = e.rows.size() - from;
  bool same = e.delivered && e.last.docs.size() == n;
  for (size_t i = 0; same && i < n; ++i) same = e.last.docs[i] == e.rows[from + i].doc;
  if (same) return;
  e.last.docs.clear();
  e.last.docs.reserve(n);
  for (size_t i = 0; i < n; ++i) e.last.docs.push_back(e.rows[from + i].doc);
  e.last.updateSeq = seq;
  e.delivered = true;
  deliver(core, e);
}

enum class Action : char {
  Keep,   // no change touched the result
  Patch,  // changes were applied to complete rows
  Rerun,  // run the query again
};

// One pass over every registered query: reads the changes since the oldest sequence any query saw,
// decides for each query whether they touch it (patching complete rows on the way), re-runs those that
// need it and delivers the results that differ.
void runPass(Core& core, const std::vector<std::shared_ptr<Entry>>& entries) {
  Store& store = *core.store;
  const uint64_t seq = store.updateSeq();
  const uint64_t purge = store.purgeSeq();
  std::vector<Action> action(entries.size(), Action::Keep);
  uint64_t since = UINT64_MAX;
  size_t undecided = 0;  // entries a later change may still send to Rerun
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i]->purgeSeq != purge) {
      action[i] = Action::Rerun;
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
      // A design document may add or drop an index, and with it the order of an unsorted query.
      const bool design = c.id.starts_with("_design/");
      for (size_t i = 0; i < entries.size() && undecided > 0; ++i) {
        Entry& e = *entries[i];
        if (action[i] == Action::Rerun || c.seq <= e.seenSeq) continue;
        if (!design && e.complete) {
          const bool now = doc.matches(e.query.selector);
          if (patchRows(e, c.id, now ? &doc.json() : nullptr)) action[i] = Action::Patch;
          continue;
        }
        if (design || e.ids.count(c.id) || doc.matches(e.query.selector)) {
          action[i] = Action::Rerun;
          --undecided;
        }
      }
    }
    if (chunk.size() < kChangesChunk) break;
    since = *last;
  }
  // Patched rows are a snapshot only if no write landed while the documents were read one by one;
  // otherwise (or after a failed scan) the query runs again, which reads in one snapshot.
  const bool quiet = scanned && store.updateSeq() == seq;

  for (size_t i = 0; i < entries.size(); ++i) {
    Entry& e = *entries[i];
    if (action[i] == Action::Patch && !quiet) action[i] = Action::Rerun;
    switch (action[i]) {
      case Action::Keep:
        if (scanned) e.seenSeq = std::max(e.seenSeq, seq);
        if (!e.delivered) publish(core, e, e.last.updateSeq);
        break;
      case Action::Patch:
        e.seenSeq = seq;
        publish(core, e, seq);
        break;
      case Action::Rerun: {
        // A failed run (a storage error, an index use_index names deleted) keeps the last result; the
        // query is looked at again after the next write.
        Result<uint64_t> ran = runEntry(store, e);
        if (!ran) break;
        e.seenSeq = *ran;
        e.purgeSeq = purge;
        publish(core, e, *ran);
        break;
      }
    }
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
  e->patchable = query.options.fields.empty() && query.options.sort.empty() &&
                 query.options.bookmark.empty() && !query.options.conflicts;
  e->onResult = std::move(onResult);

  Store& store = *core_->store;
  e->purgeSeq = store.purgeSeq();
  Result<uint64_t> ran = runEntry(store, *e);
  if (!ran) return ran.status();
  e->seenSeq = *ran;
  e->last.updateSeq = *ran;

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
