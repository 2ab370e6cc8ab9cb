"""The harness shared by the benchmarks in bench/. A scenario file declares its options and one
async function, and calls `run`; the harness gives the function a migrated scratch database
(embedded Postgres, or a scratch database on DATABASE_URL's server), a scratch directory,
supervised child processes and a report, then measures the floor (pgbench TPC-B) on the same
server and prints the scenario's rates as ratios to it. Everything it made goes at exit.

    servers    scratch directory, Postgres server, scratch databases
    processes  child processes (embedded Redis, our services), free ports
    meters     CPU by process (/proc), write transactions, connections, SQL statements
    floor      pgbench TPC-B
    report     latency percentiles, the printed report and its ratios
    services   the environment our services run with
    shop       a generated shop served by our services, sized by --customers and --orders
"""

from .floor import Floor
from .meters import Cost, Meter, count_statements
from .processes import Processes, Service, free_port
from .report import Report, latency_line, percentile
from .runner import Bench, run, scenario_parser
from .servers import autocommit_connection
from .services import service_env
from .shop import ServedShop, add_shop_arguments, serve_generated_shop

__all__ = [
    "Bench",
    "Cost",
    "Floor",
    "Meter",
    "Processes",
    "Report",
    "ServedShop",
    "Service",
    "add_shop_arguments",
    "autocommit_connection",
    "count_statements",
    "free_port",
    "latency_line",
    "percentile",
    "run",
    "scenario_parser",
    "serve_generated_shop",
    "service_env",
]
