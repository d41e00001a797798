"""binaryoperatorfornumbers: arithmetic on two floats."""
from wpsgate.process import LiteralInput, LiteralOutput, Process, ProcessError

_OPERATIONS = {
    "add": lambda a, b: a + b,
    "subtract": lambda a, b: a - b,
    "multiply": lambda a, b: a * b,
    "divide": lambda a, b: a / b,
}


class BinaryOperator(Process):
    def __init__(self) -> None:
        super().__init__(
            self._handler, identifier="binaryoperatorfornumbers", title="Binary Operator for Numbers",
            abstract="Performs operation on two numbers and returns the answer. This example process is taken "
                     "from Climate4Impact.", version="1.0", keywords=["calculator"],
            inputs=[
                LiteralInput("inputa", "Input 1", data_type="float", default=2.0, min_occurs=0,
                             abstract="Enter Input 1"),
                LiteralInput("inputb", "Input 2", data_type="float", default=3.0, min_occurs=0,
                             abstract="Enter Input 2"),
                LiteralInput("operator", "Operator", data_type="string", default="add", min_occurs=0,
                             allowed_values=list(_OPERATIONS), abstract="Choose a binary Operator"),
            ],
            outputs=[LiteralOutput("output", "Binary operator result", data_type="float")],
            store_supported=True, status_supported=True)

    @staticmethod
    def _handler(request, response):
        a = request.inputs["inputa"][0].data
        b = request.inputs["inputb"][0].data
        operator = request.inputs["operator"][0].data
        try:
            response.outputs["output"].data = _OPERATIONS[operator](a, b)
        except ZeroDivisionError:
            raise ProcessError("division by zero: inputb must not be 0 for divide") from None
        return response
