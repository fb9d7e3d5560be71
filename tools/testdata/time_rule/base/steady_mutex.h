// The control: skipped, though it names AwaitWithTimeout.
namespace base {
class SteadyMutex {
 public:
  bool AwaitWithTimeout(const absl::Condition& cond, absl::Duration timeout);
  bool AwaitWithDeadline(const absl::Condition& cond, absl::Time deadline);
};
}  // namespace base
