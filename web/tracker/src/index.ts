// The package's public API. For a plain <script>, the web build wraps this
// module as an IIFE named `Vitrina`, so every export is also a property of
// window.Vitrina: `new Vitrina.Tracker({...})`, `Vitrina.loadWidget(...)`.

export {
  Tracker,
  VitrinaError,
  VitrinaFieldError,
  EVENT_TYPES,
  SCENARIOS,
} from './tracker.js';
export type {
  EventContext,
  EventFields,
  EventType,
  FetchInit,
  FetchLike,
  Id,
  InstallTarget,
  Line,
  RecommendationResponse,
  RecommendedItem,
  RecommendParams,
  ResponseLike,
  Scenario,
  SendBeaconLike,
  StorageLike,
  TrackedEvent,
  TrackerError,
  TrackerOptions,
} from './tracker.js';
export { loadWidget, renderRecommendations, safeHref } from './widget.js';
export type {
  WidgetDocument,
  WidgetElement,
  WidgetEvent,
  WidgetOptions,
  WidgetSource,
  WidgetTracker,
} from './widget.js';

export const VERSION = '0.1.0';
