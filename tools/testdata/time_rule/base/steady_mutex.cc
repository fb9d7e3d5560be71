bool base::SteadyMutex::AwaitWithDeadline(const absl::Condition& cond,
                                          absl::Time deadline) {
  return AwaitWithTimeout(cond, deadline - absl::Now());
}
