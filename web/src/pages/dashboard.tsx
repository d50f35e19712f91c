// UC-005: live dashboards (being written).
export default function DashboardPage() {
  return (
    <section aria-labelledby="dash-title">
      <h1 id="dash-title">Dashboards</h1>
    </section>
  );
}
