//! `afc city provision`: creates or updates a city's streams (its events, its carriers'
//! signals), as the city's provisioner (`<city>-admin`). The services only find the streams;
//! they may not make or change them.

use std::path::Path;

use domain::City;
use protocol::subjects;

/// Makes sure `city`'s stream exists with the settings of this build and prints it.
pub async fn provision(nats: &str, credentials: Option<&Path>, city: &City) -> anyhow::Result<()> {
    let client =
        super::connect(nats, credentials, &format!("{city}-admin"), subjects::city_inbox(city, "admin")).await?;
    let js = async_nats::jetstream::new(client);
    for info in
        [bus::streams::ensure_city_stream(&js, city).await?, bus::streams::ensure_signal_stream(&js, city).await?]
    {
        let subjects = info.config.subjects.join(", ");
        super::out::line(format_args!("{} on {nats} holds {subjects}", info.config.name))?;
    }
    Ok(())
}
