"""Revenue per customer region from the day's order and customer extracts.

The fixture repository of the planmap Python client's tests: the tests call
revenue_by_region() on CSV files they generate, and check that planmap maps the plan's
join and aggregate back to the lines below.
"""

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

ORDERS_SCHEMA = "order_id INT, customer_id INT, amount DOUBLE, state STRING"
CUSTOMERS_SCHEMA = "customer_id INT, region STRING"


def load_orders(spark: SparkSession, path: str) -> DataFrame:
    """The paid orders of the extract at ``path``."""
    orders = spark.read.csv(path, header=True, schema=ORDERS_SCHEMA)
    return orders.filter(F.col("state") == "paid")


def load_customers(spark: SparkSession, path: str) -> DataFrame:
    """The customers of the extract at ``path`` that have a region."""
    customers = spark.read.csv(path, header=True, schema=CUSTOMERS_SCHEMA)
    return customers.where(F.col("region").isNotNull())


def revenue_by_region(spark: SparkSession, orders_path: str, customers_path: str) -> DataFrame:
    """Paid revenue and order count per region."""
    paid = load_orders(spark, orders_path)
    customers = load_customers(spark, customers_path)
    joined = paid.join(customers, on="customer_id", how="inner")
    return joined.groupBy("region").agg(F.sum("amount").alias("revenue"), F.count("order_id").alias("orders"))
