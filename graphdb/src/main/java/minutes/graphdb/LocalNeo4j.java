package minutes.graphdb;

import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.io.ByteUnit;

/**
 * An embedded Neo4j with its Bolt connector: the graph minutes mirrors into, for development
 * and tests. Authentication is off, so it listens on loopback only unless told otherwise.
 *
 * <p>Settings come from system properties: {@code graphdb.data} (folder), {@code graphdb.host}
 * (default 127.0.0.1), {@code graphdb.port} (default 7687), {@code graphdb.pagecache} (MiB,
 * default 128: left alone the page cache takes half the machine). It stops cleanly on SIGTERM.
 */
public final class LocalNeo4j {
  private LocalNeo4j() {}

  public static void main(String[] args) throws InterruptedException {
    Path data = Path.of(System.getProperty("graphdb.data", "graphdb-data")).toAbsolutePath();
    String host = System.getProperty("graphdb.host", "127.0.0.1");
    int port = Integer.parseInt(System.getProperty("graphdb.port", "7687"));
    long pageCache = Long.parseLong(System.getProperty("graphdb.pagecache", "128"));

    DatabaseManagementService service =
        new DatabaseManagementServiceBuilder(data)
            .setConfig(BoltConnector.enabled, true)
            .setConfig(BoltConnector.listen_address, new SocketAddress(host, port))
            .setConfig(GraphDatabaseSettings.auth_enabled, false)
            .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(pageCache))
            .build();
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  service.shutdown();
                  stopped.countDown();
                }));
    service.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);  // fails now, not later
    System.out.println("neo4j ready on bolt://" + host + ":" + port + " data " + data);
    System.out.flush();
    stopped.await();
  }
}
