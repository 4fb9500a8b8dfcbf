#include "replicator/checkpoint.h"

#include <ctime>

#include "db/json.h"
#include "replicator/tuning.h"

namespace settee::repl {
namespace {

using simdjson::dom::element;

std::string str(element obj, const char* key) {
  std::string_view s;
  return obj[key].get(s) ? std::string() : std::string(s);
}

uint64_t num(element obj, const char* key) {
  uint64_t n = 0;
  return obj[key].get(n) ? 0 : n;
}

std::vector<HistoryEntry> parseHistory(element root) {
  std::vector<HistoryEntry> out;
  simdjson::dom::array history;
  if (root["history"].get(history)) return out;
  for (element h : history) {
    HistoryEntry e;
    e.sessionId = str(h, "session_id");
    e.startTime = str(h, "start_time");
    e.endTime = str(h, "end_time");
    element v;
    if (!h["start_last_seq"].get(v)) e.startLastSeq = db::toJson(v);
    if (!h["end_last_seq"].get(v)) e.endLastSeq = db::toJson(v);
    if (!h["recorded_seq"].get(v)) e.recordedSeq = db::toJson(v);
    e.counters = {num(h, "docs_read"), num(h, "docs_written"), num(h, "doc_write_failures"),
                  num(h, "missing_checked"), num(h, "missing_found")};
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

std::string resumeSeq(const std::optional<std::string>& source, const std::optional<std::string>& target) {
  if (!source || !target) return "0";
  simdjson::dom::parser p1, p2;
  element s, t;
  if (p1.parse(*source).get(s) || p2.parse(*target).get(t)) return "0";
  std::string sid = str(s, "session_id");
  element seq;
  if (!sid.empty() && sid == str(t, "session_id") && !s["source_last_seq"].get(seq)) return db::toJson(seq);
  auto sh = parseHistory(s), th = parseHistory(t);
  for (const auto& entry : sh) {
    for (const auto& other : th) {
      if (entry.sessionId == other.sessionId && !entry.recordedSeq.empty()) return entry.recordedSeq;
    }
  }
  return "0";
}

std::string checkpointRev(const std::optional<std::string>& json) {
  if (!json) return "";
  simdjson::dom::parser p;
  element root;
  return p.parse(*json).get(root) ? std::string() : str(root, "_rev");
}

std::vector<HistoryEntry> checkpointHistory(const std::optional<std::string>& json) {
  if (!json) return {};
  simdjson::dom::parser p;
  element root;
  return p.parse(*json).get(root) ? std::vector<HistoryEntry>() : parseHistory(root);
}

std::string encodeCheckpoint(const std::string& rev, const std::string& sessionId, const std::string& sourceLastSeq,
                             const HistoryEntry& entry, const std::vector<HistoryEntry>& previous) {
  db::JsonBuffer buf;
  db::JsonWriter w(buf);
  auto seq = [&](const std::string& json) { db::writeRaw(w, json.empty() ? "0" : json, rapidjson::kNumberType); };
  w.StartObject();
  if (!rev.empty()) {
    db::writeKey(w, "_rev");
    db::writeString(w, rev);
  }
  db::writeKey(w, "session_id");
  db::writeString(w, sessionId);
  db::writeKey(w, "source_last_seq");
  seq(sourceLastSeq);
  db::writeKey(w, "replication_id_version");
  w.Uint(4);
  db::writeKey(w, "history");
  w.StartArray();
  size_t n = 0;
  auto write = [&](const HistoryEntry& e) {
    w.StartObject();
    db::writeKey(w, "session_id");
    db::writeString(w, e.sessionId);
    db::writeKey(w, "start_time");
    db::writeString(w, e.startTime);
    db::writeKey(w, "end_time");
    db::writeString(w, e.endTime);
    db::writeKey(w, "start_last_seq");
    seq(e.startLastSeq);
    db::writeKey(w, "end_last_seq");
    seq(e.endLastSeq);
    db::writeKey(w, "recorded_seq");
    seq(e.recordedSeq);
    const std::pair<const char*, uint64_t> counters[] = {
        {"missing_checked", e.counters.missingChecked}, {"missing_found", e.counters.missingFound},
        {"docs_read", e.counters.docsRead},             {"docs_written", e.counters.docsWritten},
        {"doc_write_failures", e.counters.docWriteFailures}};
    for (auto [k, v] : counters) {
      db::writeKey(w, k);
      w.Uint64(v);
    }
    w.EndObject();
  };
  write(entry);
  ++n;
  for (const auto& e : previous) {
    if (n++ >= tuning::kHistoryLimit) break;
    if (e.sessionId == entry.sessionId) continue;  // the running session's older record
    write(e);
  }
  w.EndArray();
  w.EndObject();
  return std::string(db::bufferView(buf));
}

std::string utcNow(const char* format) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

std::string httpDate() { return utcNow("%a, %d %b %Y %H:%M:%S GMT"); }

}  // namespace settee::repl
