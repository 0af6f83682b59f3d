@problemName H
@univariate true
@classLabel true a
@data
1,2,3:a