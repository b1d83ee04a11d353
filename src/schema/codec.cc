#include "schema/codec.h"

#include <cstring>

namespace vitrina {
namespace {

constexpr uint8_t kFormatVersion = 1;
// Items since pictures, links, old prices, availability and variant groups;
// version 1 items (without them) still decode.
constexpr uint8_t kItemFormatVersion = 2;

class Encoder {
 public:
  explicit Encoder(std::string* out) : out_(out) {}
  void U8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      out_->push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out_->push_back(static_cast<char>(v));
  }
  void Signed(int64_t v) { Varint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
  void Double(double v) {
    char bytes[8];
    std::memcpy(bytes, &v, 8);
    out_->append(bytes, 8);
  }
  void String(std::string_view s) {
    Varint(s.size());
    out_->append(s);
  }
  void OptionalDouble(const std::optional<double>& v) {
    U8(v ? 1 : 0);
    if (v) Double(*v);
  }
  void Strings(const std::vector<std::string>& list) {
    Varint(list.size());
    for (const auto& s : list) String(s);
  }
  void Attrs(const Attributes& attributes) {
    Varint(attributes.size());
    for (const auto& [key, value] : attributes) {
      String(key);
      U8(static_cast<uint8_t>(value.index()));
      if (const auto* text = std::get_if<std::string>(&value)) {
        String(*text);
      } else if (const auto* number = std::get_if<double>(&value)) {
        Double(*number);
      } else if (const auto* flag = std::get_if<bool>(&value)) {
        U8(*flag ? 1 : 0);
      } else {
        Strings(std::get<std::vector<std::string>>(value));
      }
    }
  }

 private:
  std::string* out_;
};

class Decoder {
 public:
  explicit Decoder(std::string_view data) : data_(data) {}

  bool U8(uint8_t* v) {
    if (pos_ >= data_.size()) return false;
    *v = static_cast<uint8_t>(data_[pos_++]);
    return true;
  }
  bool Varint(uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) return false;
      auto byte = static_cast<uint8_t>(data_[pos_++]);
      if (shift == 63 && byte > 1) return false;  // more than 64 bits
      result |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) {
        *v = result;
        return true;
      }
    }
    return false;
  }
  bool Signed(int64_t* v) {
    uint64_t raw;
    if (!Varint(&raw)) return false;
    *v = static_cast<int64_t>((raw >> 1) ^ (~(raw & 1) + 1));
    return true;
  }
  bool Double(double* v) {
    if (data_.size() - pos_ < 8) return false;
    std::memcpy(v, data_.data() + pos_, 8);
    pos_ += 8;
    return true;
  }
  bool String(std::string* s) {
    uint64_t size;
    if (!Varint(&size) || size > data_.size() - pos_) return false;
    s->assign(data_.data() + pos_, size);
    pos_ += size;
    return true;
  }
  bool OptionalDouble(std::optional<double>* v) {
    uint8_t present;
    if (!U8(&present)) return false;
    if (!present) {
      v->reset();
      return true;
    }
    double d;
    if (!Double(&d)) return false;
    *v = d;
    return true;
  }
  bool Count(uint64_t* n) {
    // Every element takes at least one byte: bounds allocation on corrupt input.
    return Varint(n) && *n <= data_.size() - pos_;
  }
  bool Strings(std::vector<std::string>* list) {
    uint64_t n;
    if (!Count(&n)) return false;
    list->resize(n);
    for (auto& s : *list) {
      if (!String(&s)) return false;
    }
    return true;
  }
  bool Attrs(Attributes* attributes) {
    uint64_t n;
    if (!Count(&n)) return false;
    attributes->clear();
    attributes->reserve(n);
    for (uint64_t i = 0; i < n; ++i) {
      std::string key;
      uint8_t tag;
      if (!String(&key) || !U8(&tag)) return false;
      switch (tag) {
        case 0: {
          std::string text;
          if (!String(&text)) return false;
          attributes->emplace_back(std::move(key), std::move(text));
          break;
        }
        case 1: {
          double number;
          if (!Double(&number)) return false;
          attributes->emplace_back(std::move(key), number);
          break;
        }
        case 2: {
          uint8_t flag;
          if (!U8(&flag)) return false;
          attributes->emplace_back(std::move(key), flag != 0);
          break;
        }
        case 3: {
          std::vector<std::string> list;
          if (!Strings(&list)) return false;
          attributes->emplace_back(std::move(key), std::move(list));
          break;
        }
        default: return false;
      }
    }
    return true;
  }
  bool Version() {
    uint8_t version;
    return U8(&version) && version == kFormatVersion;
  }
  // Reads the version byte; false for a version outside [low, high].
  bool VersionIn(uint8_t low, uint8_t high, uint8_t* version) { return U8(version) && *version >= low && *version <= high; }
  bool AtEnd() const { return pos_ == data_.size(); }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

Status Corrupt(const char* what) { return Status::Corruption(std::string("cannot decode stored ") + what); }

}  // namespace

void EncodeItem(const Item& item, std::string* out) {
  Encoder e(out);
  e.U8(kItemFormatVersion);
  e.Signed(item.created_ms);  // first, for PeekCreatedMillis
  e.Signed(item.updated_ms);
  e.String(item.id);
  e.String(item.title);
  e.String(item.description);
  e.Strings(item.category);
  e.String(item.brand);
  e.OptionalDouble(item.price);
  e.String(item.currency);
  e.U8(item.stock ? 1 : 0);
  if (item.stock) e.Signed(*item.stock);
  e.Attrs(item.attributes);
  e.U8(item.active ? 1 : 0);
  // Version 2.
  e.OptionalDouble(item.old_price);
  e.U8(item.available ? 1 : 0);
  e.String(item.image_url);
  e.Strings(item.images);
  e.String(item.url);
  e.String(item.group_id);
}

Status DecodeItem(std::string_view data, Item* item) {
  Decoder d(data);
  uint8_t version, has_stock, active;
  if (!d.VersionIn(1, kItemFormatVersion, &version) || !d.Signed(&item->created_ms) || !d.Signed(&item->updated_ms) ||
      !d.String(&item->id) || !d.String(&item->title) || !d.String(&item->description) ||
      !d.Strings(&item->category) || !d.String(&item->brand) || !d.OptionalDouble(&item->price) ||
      !d.String(&item->currency) || !d.U8(&has_stock)) {
    return Corrupt("item");
  }
  item->stock.reset();
  if (has_stock) {
    int64_t stock;
    if (!d.Signed(&stock)) return Corrupt("item");
    item->stock = stock;
  }
  if (!d.Attrs(&item->attributes) || !d.U8(&active)) return Corrupt("item");
  item->active = active != 0;
  item->old_price.reset();
  item->available = true;
  item->image_url.clear();
  item->images.clear();
  item->url.clear();
  item->group_id.clear();
  if (version >= 2) {
    uint8_t available;
    if (!d.OptionalDouble(&item->old_price) || !d.U8(&available) || !d.String(&item->image_url) ||
        !d.Strings(&item->images) || !d.String(&item->url) || !d.String(&item->group_id)) {
      return Corrupt("item");
    }
    item->available = available != 0;
  }
  if (!d.AtEnd()) return Corrupt("item");
  return Status::OK();
}

void EncodeUser(const User& user, std::string* out) {
  Encoder e(out);
  e.U8(kFormatVersion);
  e.Signed(user.created_ms);  // first, for PeekCreatedMillis
  e.Signed(user.updated_ms);
  e.String(user.id);
  e.Attrs(user.attributes);
  e.Varint(user.consent.size());
  for (const auto& [channel, granted] : user.consent) {
    e.String(channel);
    e.U8(granted ? 1 : 0);
  }
}

Status DecodeUser(std::string_view data, User* user) {
  Decoder d(data);
  uint64_t channels;
  if (!d.Version() || !d.Signed(&user->created_ms) || !d.Signed(&user->updated_ms) || !d.String(&user->id) ||
      !d.Attrs(&user->attributes) || !d.Count(&channels)) {
    return Corrupt("user");
  }
  user->consent.resize(channels);
  for (auto& [channel, granted] : user->consent) {
    uint8_t flag;
    if (!d.String(&channel) || !d.U8(&flag)) return Corrupt("user");
    granted = flag != 0;
  }
  if (!d.AtEnd()) return Corrupt("user");
  return Status::OK();
}

Status PeekCreatedMillis(std::string_view data, int64_t* created_ms) {
  Decoder d(data);
  uint8_t version;
  if (!d.VersionIn(1, kItemFormatVersion, &version) || !d.Signed(created_ms)) return Corrupt("record");
  return Status::OK();
}

void EncodeEvent(const Event& event, std::string* out) {
  Encoder e(out);
  e.U8(kFormatVersion);
  e.String(event.event_id);
  e.U8(static_cast<uint8_t>(event.type));
  e.String(event.user_id);
  e.String(event.session_id);
  e.String(event.item_id);
  e.Varint(event.lines.size());
  for (const auto& line : event.lines) {
    e.String(line.item_id);
    e.Double(line.quantity);
    e.OptionalDouble(line.price);
  }
  e.Strings(event.item_ids);
  e.Signed(event.timestamp_ms);
  e.Signed(event.received_ms);
  e.String(event.context.device);
  e.String(event.context.country);
  e.String(event.context.page);
  e.String(event.context.channel);
  e.String(event.recommendation_id);
  e.String(event.query);
  e.OptionalDouble(event.value);
  e.String(event.currency);
}

Status DecodeEvent(std::string_view data, Event* event) {
  Decoder d(data);
  uint8_t type;
  uint64_t lines;
  if (!d.Version() || !d.String(&event->event_id) || !d.U8(&type) || type >= kEventTypeCount ||
      !d.String(&event->user_id) || !d.String(&event->session_id) || !d.String(&event->item_id) ||
      !d.Count(&lines)) {
    return Corrupt("event");
  }
  event->type = static_cast<EventType>(type);
  event->lines.resize(lines);
  for (auto& line : event->lines) {
    if (!d.String(&line.item_id) || !d.Double(&line.quantity) || !d.OptionalDouble(&line.price)) {
      return Corrupt("event");
    }
  }
  if (!d.Strings(&event->item_ids) || !d.Signed(&event->timestamp_ms) || !d.Signed(&event->received_ms) ||
      !d.String(&event->context.device) || !d.String(&event->context.country) ||
      !d.String(&event->context.page) || !d.String(&event->context.channel) ||
      !d.String(&event->recommendation_id) || !d.String(&event->query) || !d.OptionalDouble(&event->value) ||
      !d.String(&event->currency) || !d.AtEnd()) {
    return Corrupt("event");
  }
  return Status::OK();
}

}  // namespace vitrina
