// replicator/checkpoint.h — CouchDB's replication checkpoints, as pure functions.
//
// A checkpoint is the document `_local/<replication id>`, written with the same body on both sides:
// {"session_id","source_last_seq","replication_id_version":4,"history":[... at most 50 ...]} with each
// history entry {"session_id","start_time","end_time","start_last_seq","end_last_seq","recorded_seq",
// "missing_checked","missing_found","docs_read","docs_written","doc_write_failures"}.
// Resume rule (CouchDB's): the same session_id on both sides → its source_last_seq; otherwise the newest
// session present in both histories → its recorded_seq; nothing in common → from the start.
// Sequences stay JSON text throughout.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "replicator/endpoint.h"

namespace settee::repl {

struct ReplicationCounters {
  uint64_t docsRead = 0;
  uint64_t docsWritten = 0;
  uint64_t docWriteFailures = 0;
  uint64_t missingChecked = 0;
  uint64_t missingFound = 0;
};

struct HistoryEntry {
  std::string sessionId;
  std::string startTime, endTime;     // RFC 1123 dates
  std::string startLastSeq, endLastSeq, recordedSeq;  // JSON text
  ReplicationCounters counters;
};

// Where to start, given the checkpoint JSON found on each side (nullopt: none). "0" when no agreement.
std::string resumeSeq(const std::optional<std::string>& source, const std::optional<std::string>& target);

// The `_rev` of a checkpoint document ("" when none), so the next write does not conflict.
std::string checkpointRev(const std::optional<std::string>& json);

// The earlier history of a checkpoint document (newest first), for carrying forward.
std::vector<HistoryEntry> checkpointHistory(const std::optional<std::string>& json);

// The body to write: `entry` first, then `previous`, cut to the history limit.
std::string encodeCheckpoint(const std::string& rev, const std::string& sessionId, const std::string& sourceLastSeq,
                             const HistoryEntry& entry, const std::vector<HistoryEntry>& previous);

// Now in UTC, formatted by strftime (at most 63 characters).
std::string utcNow(const char* format);
std::string httpDate();  // now, as "Sun, 22 Nov 2026 23:29:00 GMT"

}  // namespace settee::repl
