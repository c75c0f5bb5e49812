package io.longnet.spark;

import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * One {@code local[2]} SparkSession per test class, bound to loopback, UI off. Register with
 * {@code @RegisterExtension static SparkSessionExtension spark = new SparkSessionExtension();}.
 */
public final class SparkSessionExtension implements BeforeAllCallback, AfterAllCallback {

    private SparkSession session;

    @Override
    public void beforeAll(ExtensionContext context) {
        session = SparkSession.builder()
                .master("local[2]")
                .appName(context.getDisplayName())
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.ui.enabled", "false")
                .config("spark.sql.shuffle.partitions", "4")
                .getOrCreate();
    }

    @Override
    public void afterAll(ExtensionContext context) {
        if (session != null) {
            session.stop();
        }
    }

    public SparkSession session() {
        return session;
    }
}
