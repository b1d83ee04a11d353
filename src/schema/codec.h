// Compact binary encoding of records for storage. Each value starts with a
// format version byte; decoders reject unknown versions and truncated or
// trailing bytes with Status::Corruption.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "schema/types.h"

namespace vitrina {

// Encoders append to *out (they do not clear it).
void EncodeItem(const Item& item, std::string* out);
void EncodeUser(const User& user, std::string* out);
void EncodeEvent(const Event& event, std::string* out);

Status DecodeItem(std::string_view data, Item* item);
Status DecodeUser(std::string_view data, User* user);
Status DecodeEvent(std::string_view data, Event* event);

// created_ms of an encoded Item or User without decoding the rest.
Status PeekCreatedMillis(std::string_view data, int64_t* created_ms);

}  // namespace vitrina
