// Key layouts of the RocksDB store (docs/STORAGE.md has the table).
//
//   events     8-byte big-endian sequence number      -> encoded Event
//   event_ids  event_id                               -> sequence number
//   timeline   'u'|'s' actor_id 0x00 ts(8) seq(8)     -> encoded Event (a copy; empty in
//                                                     stores written before 2026-11-24)
//   items      item id                                -> encoded Item
//   users      user id                                -> encoded User
//   default    "format", "counts"                     -> store metadata
//
// Big-endian integers sort numerically as bytes. Timestamps have their sign
// bit flipped so that negative times sort first. Actor ids never contain
// 0x00 (validation rejects control characters), so the separator is safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "storage/store.h"

namespace vitrina {

inline void PutFixed64(std::string* out, uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(value >> shift));
}

inline uint64_t GetFixed64(const char* data) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | static_cast<uint8_t>(data[i]);
  return value;
}

inline std::string SequenceKey(uint64_t seq) {
  std::string key;
  key.reserve(8);
  PutFixed64(&key, seq);
  return key;
}

inline void TimelinePrefix(ActorKind kind, std::string_view actor_id, std::string* out) {
  out->clear();
  out->push_back(kind == ActorKind::kUser ? 'u' : 's');
  out->append(actor_id);
  out->push_back('\0');
}

inline void TimelineKey(ActorKind kind, std::string_view actor_id, int64_t timestamp_ms, uint64_t seq,
                        std::string* out) {
  TimelinePrefix(kind, actor_id, out);
  PutFixed64(out, static_cast<uint64_t>(timestamp_ms) ^ (uint64_t{1} << 63));
  PutFixed64(out, seq);
}

}  // namespace vitrina
