"""The local single-machine stack: Kafka (KRaft) and Cassandra 5 from Maven Central, on JDK 17."""
