from atelier.customer.v1 import customer_pb2
from atelier.customer.v1 import customer_service_pb2 as api
from tests.conftest import hq, metadata_for
from tests.customer.support import known_store


async def test_create_and_get(customer_service, customer_stub):
    await known_store(customer_service, "stores/paris")
    created = await customer_stub.CreateCustomer(
        api.CreateCustomerRequest(
            customer=customer_pb2.Customer(
                given_name="Hélène",
                family_name="Laurent",
                locale="fr-FR",
                home_store="stores/paris",
                contact_points=[
                    customer_pb2.ContactPoint(kind=customer_pb2.CONTACT_KIND_PHONE, value="06 12 34 56 78")
                ],
            )
        ),
        metadata=metadata_for(hq()),
        timeout=10,
    )
    assert created.contact_points[0].value == "+33612345678"
    got = await customer_stub.GetCustomer(
        api.GetCustomerRequest(name=created.name), metadata=metadata_for(hq()), timeout=10
    )
    assert got == created
