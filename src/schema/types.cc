#include "schema/types.h"

namespace vitrina {
namespace {

constexpr std::array<std::string_view, kEventTypeCount> kNames = {
    "view", "click", "add_to_cart", "remove_from_cart", "purchase", "return", "search", "rating", "impression",
};

}  // namespace

std::string_view EventTypeName(EventType type) { return kNames[static_cast<size_t>(type)]; }

std::optional<EventType> ParseEventType(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<EventType>(i);
  }
  return std::nullopt;
}

const std::array<EventType, kEventTypeCount>& AllEventTypes() {
  static const std::array<EventType, kEventTypeCount> kAll = [] {
    std::array<EventType, kEventTypeCount> all{};
    for (size_t i = 0; i < kEventTypeCount; ++i) all[i] = static_cast<EventType>(i);
    return all;
  }();
  return kAll;
}

}  // namespace vitrina
