#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    careflow::http::start(patients_history_list::PatientsHistoryList::from_vars).await
}
